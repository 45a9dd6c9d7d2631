"""The program's library: what `__main__.py` and `components/` import when the engine runs them
(config model, naming, tags, CIDR maths, policy documents, user data, provider settings).

Never the tooling (`tap_tooling`), boto3, argparse, the Automation API or the mocks: a test
(tests/test_layers.py) enforces it.
"""
