"""`report`: a provenance report of one query, as HTML, PDF or JSON. WeasyPrint and the searcher
are imported only when a report is written."""

from pathlib import Path
from typing import Annotated

import typer

from firstseen.cli.context import open_archive
from firstseen.cli.lines import err, fail, out
from firstseen.errors import FirstseenError
from firstseen.text import printable


def report(
    query: Annotated[Path, typer.Argument(help="The image or video to trace")],
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="Report file: .html, .pdf or .json")
    ],
    claimed_date: Annotated[
        str | None, typer.Option(help="The date the claim gives the picture, YYYY-MM-DD")
    ] = None,
    claim_url: Annotated[str | None, typer.Option(help="Where the claim was seen")] = None,
    claim: Annotated[
        str | None, typer.Option(help="The claim in words (ClaimReview claimReviewed)")
    ] = None,
    reviewer: Annotated[str, typer.Option(help="Who reviews the claim")] = "firstseen",
    review_url: Annotated[
        str | None, typer.Option(help="URL of the fact-check article (ClaimReview url)")
    ] = None,
    top: Annotated[int, typer.Option(min=1, max=20, help="Candidates searched")] = 5,
) -> None:
    """Write a provenance report: verdict, side-by-side pictures, timeline, provenance."""
    from firstseen.engine import open_searcher
    from firstseen.evidence.render import check_target, write_report
    from firstseen.evidence.report import Claim, build_report

    try:
        check_target(out_file)
    except FirstseenError as exc:
        fail(str(exc))
    archive = open_archive()
    try:
        claimed = Claim(claimed_date, claim_url, claim, reviewer, review_url)
        built = build_report(archive, open_searcher(archive), query, claimed, top)
        write_report(built, out_file)
    except FirstseenError as exc:
        fail(str(exc))
    finally:
        archive.catalog.close()
    out.print(built.verdict, highlight=False, soft_wrap=True)
    err.print(f"wrote {printable(str(out_file))}", markup=False, highlight=False)
