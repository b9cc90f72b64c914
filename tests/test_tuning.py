"""Every threshold and budget of matching lives in firstseen.tuning, says why it is there and
where its value came from, and docs/thresholds.md is that module printed."""

import ast
from dataclasses import fields
from pathlib import Path

import firstseen
from firstseen.tuning import STAGES, thresholds_page
from firstseen.tuning.knobs import SOURCES

SRC = Path(firstseen.__file__).parent
PAGE = SRC.parents[1] / "docs" / "thresholds.md"
# Module constants that are not tuning: a recipe's own version and size, data layouts.
NOT_TUNING = {
    ("matching/background.py", "_SIDE"),  # part of the generated set's recipe, with _VERSION
    ("matching/background.py", "_VERSION"),
    ("matching/hashbank.py", "_WORDS"),  # a PDQ hash's 256 bits as uint64
    ("archive/parts.py", "SLOTS"),  # ids reserved per frame in the parts index
}


def test_the_thresholds_page_is_the_tuning_module_printed():
    assert PAGE.read_text() == thresholds_page(), (
        "docs/thresholds.md is stale: run `python -m firstseen.tuning > docs/thresholds.md`"
    )


def test_every_knob_says_why_and_where_its_value_came_from():
    for name, stage in STAGES.items():
        for knob in fields(stage):  # type: ignore[arg-type]
            why, source = knob.metadata["why"], knob.metadata["source"]
            assert why.strip() and "|" not in why, (name, knob.name)
            assert source.startswith(SOURCES) and "|" not in source, (name, knob.name, source)


def test_no_two_knobs_share_a_name():
    names = [knob.name for stage in STAGES.values() for knob in fields(stage)]  # type: ignore[arg-type]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def _numeric(node: ast.expr) -> bool:
    """A number, or arithmetic and tuples of numbers only."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _numeric(node.left) and _numeric(node.right)
    if isinstance(node, ast.UnaryOp):
        return _numeric(node.operand)
    if isinstance(node, ast.Tuple):
        return all(_numeric(e) for e in node.elts)
    return False


def test_matching_keeps_no_numbers_of_its_own():
    """A number set at module level in matching (or in the bars and parts it relies on) is a
    tuning value that escaped firstseen.tuning."""
    modules = [
        *sorted((SRC / "matching").glob("*.py")),
        SRC / "media/bars.py",
        SRC / "archive/parts.py",
    ]
    found = set()
    for path in modules:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value and _numeric(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            found.add((path.relative_to(SRC).as_posix(), name.id))
    assert found == NOT_TUNING
