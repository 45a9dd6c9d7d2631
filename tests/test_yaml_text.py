"""tap_tooling.yaml_text: yaml.safe_load's documents and errors, on libyaml's parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tap_tooling import yaml_text
from tap_tooling.offline import PROJECT_DIR


@pytest.mark.parametrize("path", sorted(PROJECT_DIR.glob("Pulumi*.yaml")), ids=lambda p: p.name)
def test_every_project_file_parses_as_safe_load_parses_it(path: Path) -> None:
    assert yaml_text.parse(path.read_text()) == yaml.safe_load(path.read_text())


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    assert yaml_text.SAFE_LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


def test_what_safe_load_refuses_is_refused_with_its_line() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml_text.parse("config:\n  tap:x: [1, 2\n  tap:y: 3\n")
    assert caught.value.problem_mark.line >= 1  # type: ignore[attr-defined]
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml_text.parse("!!python/object:os.system ls")  # no arbitrary objects: a safe loader
