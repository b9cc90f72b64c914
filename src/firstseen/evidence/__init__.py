"""Evidence a reader can check: provenance reports, and captures of claims before they disappear.

- `report`: a verdict in plain words, the query beside each matched source (region and keypoint
  matches drawn), a "first seen" timeline, the provenance of every item shown and a schema.org
  ClaimReview block, as one self-contained HTML file, a PDF or JSON.
- `capture`: a page with the images and videos it embeds or links, fetched with address checks
  and limits, every request and response written to a WARC file kept in the archive; the media
  become searchable sources dated by the page.
- `warc`: reading WARC files (ours or other archivers'), registering their media, replaying them.
"""
