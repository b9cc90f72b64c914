"""What a tuning value is made of: the value, why it is there and where it came from, and the
page (docs/thresholds.md) that lists them all."""

from dataclasses import Field, field, fields
from inspect import cleandoc
from typing import Any

# Where a value came from: every knob's source starts with one of these, then says more.
DEV = "fitted on dev"
THERMAL_DEV = "fitted on thermal-dev"
HELDOUT = "prompted by a held-out result"
AD_HOC = "chosen on an ad-hoc set"
MEASURED = "measured"
PUBLISHED = "published"
ROUND = "round number"
BUDGET = "budget"
UNRECORDED = "not recorded"
SOURCES = (DEV, THERMAL_DEV, HELDOUT, AD_HOC, MEASURED, PUBLISHED, ROUND, BUDGET, UNRECORDED)

_MEANING = {
    DEV: "chosen on the dev split of `benchmarks/provenance.py` or `video.py` (records: "
    "docs/history/benchmarks-2026.md)",
    THERMAL_DEV: "chosen on the thermal-dev split (docs/history/benchmarks-2026.md, thermal "
    "section)",
    HELDOUT: "set while looking at held-out results, so held-out is not unseen data for it",
    AD_HOC: "checked on a set made for the purpose and not committed",
    MEASURED: "read off measurements of media, not fitted to queries",
    PUBLISHED: "taken from the method or the standard named",
    ROUND: "a round value the records say was not fitted",
    BUDGET: "bounds time or memory; chosen for cost, not for accuracy",
    UNRECORDED: "no record of how it was chosen (the commit that introduced it is named)",
}


def knob(value: Any, why: str, source: str) -> Any:
    """A dataclass field holding one tuning value, with a one-line reason and its source."""
    return field(default=value, metadata={"why": why, "source": source})


def unrecorded(commit: str) -> str:
    return f"{UNRECORDED} ({commit})"


def knobs(stage: object) -> list[Field[Any]]:
    return list(fields(stage))  # type: ignore[arg-type]


def markdown(stages: dict[str, object]) -> str:
    """docs/thresholds.md: every stage's values, reasons and sources, as tables."""
    lines = [
        "# Thresholds and budgets",
        "",
        "Generated from `src/firstseen/tuning/` by",
        "`python -m firstseen.tuning > docs/thresholds.md`; `tests/test_tuning.py` fails when this",
        "page is stale. Change a value there, never here.",
        "",
        "Where a value came from:",
        "",
        *(f"- *{source}*: {_MEANING[source]}" for source in SOURCES),
    ]
    for name, stage in stages.items():
        lines += ["", f"## `{name}`", "", cleandoc(type(stage).__doc__ or ""), ""]
        lines += ["| knob | value | why | from |", "|---|---|---|---|"]
        for knob_field in knobs(stage):
            value = getattr(stage, knob_field.name)
            why, source = knob_field.metadata["why"], knob_field.metadata["source"]
            lines.append(f"| `{knob_field.name}` | `{value!r}` | {why} | {source} |")
    return "\n".join(lines) + "\n"
