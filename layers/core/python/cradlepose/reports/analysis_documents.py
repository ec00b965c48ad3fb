"""An analysis report as documents: Markdown (what is stored) and a self-contained HTML page.

The HTML page is the Markdown rendered by markdown-it with raw HTML disabled (a model's text can
never inject markup), the overlay embedded as a data: URI and the styles inline, so the one file
opens anywhere, offline, and prints.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from cradlepose.db.models import AnalysisJob, AnalysisResult
from cradlepose.domain.analysis import (
    DISCLAIMER,
    Provenance,
    ReportFacts,
    SourcePassage,
    WrittenText,
    render_markdown,
)

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;
  max-width:52rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.5rem}
h2{margin-top:2rem;border-bottom:1px solid #dde2ea;padding-bottom:.2rem}
blockquote{margin:1rem 0;padding:.75rem 1rem;background:#fff4e5;border-left:4px solid #f08c00}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #dde2ea;padding:.3rem .6rem;text-align:left}
figure{margin:1.5rem 0}figure img{max-width:100%;border:1px solid #dde2ea}
figcaption{color:#5b6475;font-size:.9rem}
code{font-size:.85em}@media print{body{margin:0}}
"""

# The report is opened from a download, outside the web UI's CloudFront headers, so it carries
# its own policy: nothing may load or run; only its one stylesheet (by hash) and the inlined
# overlay (a data: URL) render. A note that smuggled markup past markdown-it still cannot fetch.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def markdown_report(
    job: AnalysisJob,
    result: AnalysisResult,
    *,
    requested_by: str,
    body: WrittenText,
    sources: Sequence[SourcePassage],
    confidence: dict[str, float],
    provenance: Provenance,
    completed_at: dt.datetime,
) -> str:
    return render_markdown(
        ReportFacts(
            job_id=str(job.job_id),
            image_label=f"image {job.image_id}",
            requested_at=job.created_at,
            requested_by=requested_by,
            completed_at=completed_at,
            findings=dict(result.findings or {}),
            description=result.image_description or "",
            body=body,
            sources=sources,
            confidence=confidence,
            provenance=provenance,
        )
    )


@cache
def _markdown() -> MarkdownIt:
    """Built on first use: the API imports this module, and only the HTML download renders."""
    from markdown_it import MarkdownIt  # noqa: PLC0415

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def html_page(markdown: str, overlay_png: bytes | None, title: str) -> str:
    content = _markdown().render(markdown)
    figure = ""
    if overlay_png is not None:
        data = base64.b64encode(overlay_png).decode("ascii")
        figure = (
            f'<figure><img alt="The skeleton drawn over the image" src="data:image/png;base64,{data}">'
            "<figcaption>Keypoints and skeleton: left side blue, right side orange, midline green; "
            "rings are occluded keypoints.</figcaption></figure>"
        )
    # The figure goes right after the disclaimer block, before the details.
    marker = "</blockquote>"
    content = content.replace(marker, marker + figure, 1) if marker in content else figure + content
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f'<meta name="description" content="{html.escape(DISCLAIMER)}"><style>{STYLE}</style></head>'
        f"<body>{content}</body></html>\n"
    )
