"""The timeline audit as one self-contained HTML page, in the supervisor report's style.

Same look as ``clearance report --format html`` (its stylesheet and outcome colours are
reused when available): headline numbers, then every flagged clip (GenAI on screen,
unaudited media, open findings) in track and record order, with a filter box. A
Content-Security-Policy forbids every fetch: the page loads nothing from anywhere.
"""

from __future__ import annotations

import html
from typing import IO, Any

from . import __version__
from ._display import shown, shown_path, shown_text
from .model import Outcome

__all__ = ["render_html"]

try:  # the supervisor report's look (private names: fall back if they move)
    from .report_html import _COLOUR as COLOUR
    from .report_html import _CSS as REPORT_CSS
except ImportError:  # pragma: no cover - report_html reorganised
    COLOUR = {
        "pass": "#3a9d5d",
        "notice": "#2f7fc1",
        "escalate": "#e0a21b",
        "approval": "#8e5cc7",
        "block": "#d2453b",
    }
    REPORT_CSS = (
        "body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d232b;background:#f6f7f9}"
        "header{background:#18202b;color:#fff;padding:22px 32px}main{max-width:1280px;margin:0 auto;padding:20px 32px}"
        "section{background:#fff;border:1px solid #e3e7ec;border-radius:10px;padding:18px 22px;margin:18px 0}"
        "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e3e7ec}"
        ".badge{display:inline-block;padding:1px 8px;border-radius:999px;color:#fff;font-size:12px}"
        ".kpis{display:grid;grid-template-columns:repeat(5,1fr);gap:12px}.kpi{background:#fff;border:1px solid #e3e7ec;"
        "border-radius:10px;padding:12px 16px}.kpi .n{font-size:26px;font-weight:700}"
    )

_EXTRA_CSS = """
.kpis.tl{grid-template-columns:repeat(5,minmax(0,1fr))}
.tc{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;white-space:nowrap}
.anc{font-size:13px;color:#5d3f8f}.anc b{font-weight:650}
.prob{font-size:13px;color:#9a5b00}
.genai{display:inline-block;font-size:11px;font-weight:700;letter-spacing:.3px;padding:0 6px;border-radius:4px;background:#f1e9fb;color:#5d3f8f;margin-left:6px}
.unaudited{background:#fff4dd;color:#8a5a00}
ul.fl{margin:4px 0 0;padding-left:18px;font-size:13.5px}
#clips td:nth-child(6){min-width:230px}#clips td:nth-child(3){min-width:150px}
"""

_JS = """
(function(){
  var box=document.getElementById('filter'); if(!box){return;}
  var rows=[].slice.call(document.querySelectorAll('#clips tbody tr'));
  var count=document.getElementById('count');
  function apply(){
    var terms=box.value.toLowerCase().split(/\\s+/).filter(Boolean), shown=0;
    rows.forEach(function(r){
      var ok=terms.every(function(t){return r.textContent.toLowerCase().indexOf(t)>=0;});
      r.hidden=!ok; if(ok){shown++;}
    });
    count.textContent=shown+' of '+rows.length+' shown';
  }
  box.addEventListener('input',apply); apply();
})();
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _badge(outcome: str) -> str:
    return (
        f'<span class="badge" style="background:{COLOUR.get(outcome, "#777")}">{_e(outcome)}</span>'
    )


def _clip_row(timeline: str, clip: Any) -> str:
    tags = ""
    if clip.genai:
        tags += (
            '<span class="genai">GenAI</span>'
            if clip.own_genai
            else '<span class="genai">contains GenAI</span>'
        )
    if not clip.audited:
        tags += '<span class="genai unaudited">unaudited</span>'
    asset = (
        f'<div class="asset">{_e(shown(clip.asset))}</div><div class="frames">{_e(shown(clip.stage))}'
        + (f" · frames {_e(clip.frames)}" if clip.frames else "")
        + (" · matched by clip name" if clip.matched_by == "name" else "")
        + "</div>"
        if clip.asset
        else f'<div class="asset">{_e(shown(clip.media)) if clip.media else "(no media)"}</div>'
        + (f'<div class="frames">frames {_e(clip.frames)}</div>' if clip.frames else "")
    )
    details = []
    if clip.ancestry:
        details.append(
            f'<div class="anc"><b>Built on GenAI:</b> {_e(", ".join(map(shown, clip.ancestry)))}</div>'
        )
    if clip.findings:
        items = "".join(
            f'<li><span class="rule">{_e(f.get("rule"))}</span> {_e(f.get("outcome"))}: {_e(shown_text(f.get("message")))}</li>'
            for f in clip.findings
        )
        details.append(f'<ul class="fl">{items}</ul>')
    for problem in clip.problems:
        details.append(f'<div class="prob">{_e(shown_text(problem))}</div>')
    return (
        f'<tr data-outcome="{_e(clip.outcome.value)}"><td>{_badge(clip.outcome.value)}</td>'
        f"<td>{_e(shown(clip.track))}</td><td>{_e(shown(clip.clip))}{tags}</td>"
        f'<td class="tc">{_e(clip.record_in)}</td><td class="tc">{_e(clip.record_out)}</td>'
        f"<td>{asset}</td><td>{''.join(details) or '—'}</td></tr>"
    )


def render_html(audits: list[Any], out: IO[str], *, production: str | None = None) -> None:
    """Write the timeline audit of every timeline in the edit as one page."""
    clips = [(a.name, c) for a in audits for c in a.clips]
    flagged = [(name, c) for name, c in clips if c.flagged]
    flagged.sort(key=lambda nc: -nc[1].outcome.rank)  # stable: track and record order within
    kpis = [
        ("", len(clips), "clips on screen"),
        ("approval", sum(1 for _, c in clips if c.genai), "with GenAI material"),
        ("expired", sum(1 for _, c in clips if not c.audited), "unaudited"),
        ("approval", sum(1 for _, c in clips if c.outcome is Outcome.APPROVAL), "need approval"),
        ("block", sum(1 for _, c in clips if c.outcome is Outcome.BLOCK), "blocked"),
    ]
    names = ", ".join(shown(a.name) for a in audits)  # as the table names them
    title = f"GenAI on screen — {names}" + (f" ({production})" if production else "")
    files = ", ".join(sorted({shown_path(a.file) for a in audits}))
    kpi_html = "".join(
        f'<div class="kpi {cls}"><div class="n">{n}</div><div class="l">{label}</div></div>'
        for cls, n, label in kpis
    )
    rows = "".join(_clip_row(name, c) for name, c in flagged)
    table = (
        '<div class="tools"><input id="filter" type="search" placeholder="Filter clips: track, clip, '
        'asset, rule…" aria-label="Filter clips" autocomplete="off"><span class="count" id="count"></span></div>'
        '<table id="clips"><thead><tr><th>Outcome</th><th>Track</th><th>Clip</th><th>Record in</th>'
        "<th>Record out</th><th>Asset</th><th>GenAI ancestry, open findings, problems</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if rows
        else '<p class="empty">No GenAI material, unaudited media or open findings on screen.</p>'
    )
    out.write(
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{REPORT_CSS}{_EXTRA_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="sub">{_e(files)}</div></header><main>'
        f'<div class="kpis tl">{kpi_html}</div>'
        f'<section id="on-screen"><h2>On screen: GenAI, unaudited and open findings</h2>{table}</section>'
        f"<footer>clearance {_e(__version__)} · clips resolved against the lineage store; "
        "every clip is in <code>clearance timeline --format csv</code></footer>"
        f"</main><script>{_JS}</script></body></html>\n"
    )
