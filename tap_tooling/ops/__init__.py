"""Operations of deploy.py that touch real accounts: engine driver, state bootstrap, verify.

Pure of Pulumi resources: nothing here is imported by `__main__.py`.
"""
