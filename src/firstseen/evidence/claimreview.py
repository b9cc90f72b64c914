"""A schema.org ClaimReview for the report's verdict, ready to paste into a fact-check article.

https://schema.org/ClaimReview: `claimReviewed` is the claim's text, `itemReviewed` the Claim with
where and when it appeared, `reviewRating` the verdict (a number only when the archive settles it:
the picture existed before the claimed date), `isBasedOn` the archived sources with their URLs,
dates and SHA-256 digests. The article's own URL (`url`) is the reviewer's to give.
"""

from typing import Any


def claim_review(data: dict[str, Any], claim) -> dict[str, Any]:
    query = data["query"]
    verdict = data["verdict"]
    kind = query["kind"]
    text = claim.text
    if not text and claim.date:
        made = "recorded" if kind == "video" else "taken"
        text = f"This {kind} was {made} on {claim.date}."
    elif not text:
        text = f"This {kind} is original: not a copy of earlier media."
    item: dict[str, Any] = {"@type": "Claim"}
    if claim.date:
        item["datePublished"] = claim.date
    if claim.url:
        item["appearance"] = [{"@type": "CreativeWork", "url": claim.url}]
    earliest = verdict.get("earliest")
    if verdict["match"] and earliest and earliest.get("url"):
        item["firstAppearance"] = {"@type": "CreativeWork", "url": earliest["url"]}
        if earliest.get("published"):
            item["firstAppearance"]["datePublished"] = earliest["published"]
    rating: dict[str, Any] = {"@type": "Rating"}
    relation = verdict.get("relation")
    if verdict["match"] and relation == "before":
        rating |= {
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": f"Out of context: the {kind} predates the claimed date",
        }
    elif verdict["match"] and relation in ("after", "same"):
        rating["alternateName"] = "Not contradicted: no archived source predates the claim"
    elif verdict["match"]:
        rating["alternateName"] = "Source found: see the earliest archived sighting"
    else:
        rating["alternateName"] = "Unverified: no source found in the archive"
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "datePublished": data["generated_at"][:10],
        "author": {"@type": "Organization", "name": claim.reviewer},
        "claimReviewed": text,
        "itemReviewed": item,
        "reviewRating": rating,
        "reviewBody": verdict["text"],
    }
    if claim.review_url:
        review["url"] = claim.review_url
    sources = []
    for match in data["matches"]:
        source = {
            "@type": "VideoObject" if match["kind"] == "video" else "ImageObject",
            "name": match["title"] or match["path"],
            "sha256": match["sha256"],
        }
        if match["url"]:
            source["url"] = match["url"]
        if match["published"]:
            source["datePublished"] = match["published"]
        sources.append(source)
    if sources:
        review["isBasedOn"] = sources
    return review
