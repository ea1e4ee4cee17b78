"""The supervisor's HTML report: one self-contained page (no network, no external assets).

What is on the page, top to bottom: the headline numbers; a per-stage summary with an inline
SVG bar chart of assets by outcome; the open findings (worst first, each with its
remediation) with a search box and a stage filter; approvals used and expired; the runs the
logs contain. A Content-Security-Policy forbids every fetch, so the page provably loads
nothing from anywhere. It is tested in headless Chromium (``tests/test_report_browser.py``).
"""

from __future__ import annotations

import html
from typing import IO

from clearance import __version__
from clearance._display import shown, shown_text
from clearance.model import Outcome
from clearance.report import OUTCOMES, Report

__all__ = ["render_html"]

# Colour-blind-safe-ish palette, readable on white; the same colours as the badges.
_COLOUR = {
    "pass": "#3a9d5d",
    "notice": "#2f7fc1",
    "escalate": "#e0a21b",
    "approval": "#8e5cc7",
    "block": "#d2453b",
}

_CSS = """
:root{--fg:#1d232b;--muted:#5d6875;--line:#e3e7ec;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#18202b;color:#fff;padding:22px 32px 18px}
header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}
header .sub{color:#b8c2cf;font-size:13px;margin-top:4px}
main{max-width:1280px;margin:0 auto;padding:20px 32px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}
h2{font-size:17px;margin:0 0 12px;font-weight:650}
#warnings{border-color:#d2453b;background:#fdf1f0}#warnings h2{color:#b2332a}
#warnings li{margin:4px 0;overflow-wrap:anywhere}
.kpis{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:12px;margin-top:-2px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.kpi .n{font-size:26px;font-weight:700;line-height:1.1}
.kpi .l{color:var(--muted);font-size:12.5px;text-transform:uppercase;letter-spacing:.4px}
.kpi.block .n{color:#d2453b}.kpi.approval .n{color:#8e5cc7}.kpi.expired .n{color:#b4641a}
.stages{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:26px;align-items:start}
#stages th,#stages td{padding:6px 7px;font-size:13.5px}#stages th{font-size:11px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.4px;color:var(--muted);font-weight:600;background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;min-width:74px;text-align:center;padding:1px 8px;border-radius:999px;color:#fff;font-size:12px;font-weight:650;text-transform:uppercase;letter-spacing:.3px}
.status{font-size:12px;color:var(--muted)}
.status.expired{color:#b4641a;font-weight:650}
.asset{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
#findings td:nth-child(3){min-width:260px}#findings td:nth-child(2){white-space:nowrap}
.frames{color:var(--muted);font-size:12px}
.rule{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;white-space:nowrap}
.msg{max-width:560px}
.fix{color:#31523a;background:#eef7f0;border-left:3px solid #3a9d5d;padding:4px 8px;margin-top:5px;font-size:13.5px;border-radius:0 4px 4px 0}
.tools{display:flex;gap:12px;align-items:center;margin-bottom:10px;flex-wrap:wrap}
.tools input{flex:1;min-width:240px;font:inherit;padding:8px 12px;border:1px solid #c9d1da;border-radius:8px}
.tools select{font:inherit;padding:7px 10px;border:1px solid #c9d1da;border-radius:8px;background:#fff}
.tools .count{color:var(--muted);font-size:13px;white-space:nowrap}
.empty{color:var(--muted);padding:10px 0}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12.5px;color:var(--muted);margin:6px 0 0}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:5px;vertical-align:-1px}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:8px 0 24px}
@media (max-width:1000px){.kpis{grid-template-columns:repeat(3,1fr)}.stages{grid-template-columns:1fr}}
@media print{.tools{display:none}header{background:#fff;color:#000}}
"""

_JS = """
(function(){
  var box=document.getElementById('filter'), stage=document.getElementById('stage-filter');
  var worst=document.getElementById('outcome-filter');
  if(!box||!stage||!worst){return;}
  var rank={pass:0,notice:1,escalate:2,approval:3,block:4};
  var rows=[].slice.call(document.querySelectorAll('#findings tbody tr'));
  var count=document.getElementById('count');
  function apply(){
    var terms=box.value.toLowerCase().split(/\\s+/).filter(Boolean), st=stage.value, shown=0;
    var least=worst.value?rank[worst.value]:0;
    rows.forEach(function(r){
      var text=r.textContent.toLowerCase();
      var ok=(!st||r.getAttribute('data-stage')===st)&&rank[r.getAttribute('data-outcome')]>=least
        &&terms.every(function(t){return text.indexOf(t)>=0;});
      r.hidden=!ok; if(ok){shown++;}
    });
    count.textContent=shown+' of '+rows.length+' shown';
  }
  box.addEventListener('input',apply); stage.addEventListener('change',apply);
  worst.addEventListener('change',apply); apply();
})();
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _name(value: object) -> str:
    """An asset name as the terminal table shows it (:func:`~clearance._display.shown`),
    escaped: a browser shows a line break or a tab as a space and obeys a bidi override,
    so ``nl\\nx.png`` would read as ``nl x.png`` and a name could show reversed."""
    return _e(shown(value))


def _path(value: object) -> str:
    """An asset path, shown (:func:`_name`), that may wrap after ``/`` and ``_`` rather than
    mid-word."""
    return _name(value).replace("/", "/<wbr>").replace("_", "_<wbr>")


def _when(time: str | None) -> str:
    """``2026-11-26T21:56:25.332Z`` → ``2026-11-26 21:56 UTC`` (escaped)."""
    if not time or len(time) < 16:
        return _e(time)
    return _e(f"{time[:10]} {time[11:16]} UTC")


def _badge(outcome: str) -> str:
    return f'<span class="badge" style="background:{_COLOUR.get(outcome, "#777")}">{_e(outcome)}</span>'


def _chart(report: Report) -> str:
    """Horizontal stacked bars: one per stage, segments = assets by outcome."""
    stages = report.stages
    label_w, bar_w, row_h, gap = 150, 420, 26, 10
    top = 6
    height = top + len(stages) * (row_h + gap) + 4
    peak = max([s.assets for s in stages] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Assets by outcome per stage" '
        f'viewBox="0 0 {label_w + bar_w + 60} {height}" width="100%" style="max-width:{label_w + bar_w + 60}px">'
    ]
    for i, s in enumerate(stages):
        y = top + i * (row_h + gap)
        parts.append(
            f'<text x="{label_w - 10}" y="{y + row_h / 2 + 5}" text-anchor="end" font-size="13" fill="#1d232b">{_e(s.name)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{row_h}" rx="4" fill="#eef1f4"/>'
        )
        x = float(label_w)
        for o in OUTCOMES:
            n = s.counts.get(o, 0)
            if not n:
                continue
            w = bar_w * n / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{_COLOUR[o]}">'
                f"<title>{_e(s.name)}: {n} {_e(o)}</title></rect>"
            )
            if w >= 22:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + row_h / 2 + 4.5}" text-anchor="middle" font-size="12" font-weight="600" fill="#fff">{n}</text>'
                )
            x += w
        parts.append(
            f'<text x="{x + 8:.1f}" y="{y + row_h / 2 + 5}" font-size="12.5" fill="#5d6875">{s.assets}</text>'
        )
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{_COLOUR[o]}"></i>{o}</span>' for o in OUTCOMES)
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _stage_table(report: Report) -> str:
    head = "".join(f'<th class="num">{o}</th>' for o in OUTCOMES)
    rows = []
    for s in report.stages:
        cells = "".join(f'<td class="num">{s.counts.get(o, 0) or ""}</td>' for o in OUTCOMES)
        rows.append(
            f'<tr><td><b>{_e(s.name)}</b></td><td class="num">{s.assets}</td>{cells}'
            f'<td class="num">{s.open or ""}</td></tr>'
        )
    return (
        f'<table id="stages"><thead><tr><th>Stage</th><th class="num">Assets</th>{head}'
        f'<th class="num">Open</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _findings_table(report: Report) -> str:
    rows = []
    ranked = [(a, f) for a in report.assets for f in report.shown(a) if f.is_open]
    ranked.sort(key=lambda af: -af[1].rank)  # stable: stage order, then asset, within a rank
    for a, f in ranked:
        frames = f'<div class="frames">frames {_name(a.frames)}</div>' if a.frames else ""
        status = (
            f'<span class="status expired">approval {_name(f.approval)} expired</span>'
            if f.status == "expired"
            else f'<span class="status">{_e(f.status)}</span>'
        )
        fix = (  # as the message, and as the table shows it
            f'<div class="fix"><b>Fix:</b> {_e(shown_text(f.remediation))}</div>'
            if f.remediation
            else ""
        )
        rows.append(
            f'<tr data-stage="{_e(f.stage)}" data-outcome="{_e(f.outcome)}">'
            f"<td>{_badge(f.outcome)}</td><td>{_e(f.stage)}</td>"
            f'<td><div class="asset">{_path(a.label)}</div>{frames}</td>'
            f'<td class="rule">{_e(f.rule)}</td>'
            f'<td class="msg">{_e(shown_text(f.message))}{fix}</td><td>{status}</td></tr>'
        )
    if not rows:
        return '<p class="empty">No open findings.</p>'
    options = "".join(f'<option value="{_e(s.name)}">{_e(s.name)}</option>' for s in report.stages)
    levels = "".join(f'<option value="{o}">{o} and worse</option>' for o in OUTCOMES[2:])
    return (
        '<div class="tools"><input id="filter" type="search" placeholder="Filter findings: asset, rule, '
        'words in the message…" aria-label="Filter findings" autocomplete="off">'
        f'<select id="stage-filter" aria-label="Stage"><option value="">All stages</option>{options}</select>'
        f'<select id="outcome-filter" aria-label="Outcome at least"><option value="">Any outcome</option>'
        f"{levels}</select>"
        '<span class="count" id="count"></span></div>'
        '<table id="findings"><thead><tr><th>Outcome</th><th>Stage</th><th>Asset</th><th>Rule</th>'
        f"<th>Finding and remediation</th><th>Status</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _approvals(report: Report) -> str:
    used = report.approvals("approved")
    expired = report.approvals("expired")
    if not used and not expired:
        return '<p class="empty">No approvals were applied.</p>'
    rows = []
    for f in expired:
        when = f.evidence.get("approval_expired")
        rows.append(
            f'<tr><td><span class="status expired">expired{" " + _e(when) if when else ""}</span></td>'
            f'<td class="rule">{_name(f.approval)}</td><td class="rule">{_e(f.rule)}</td><td>{_e(f.stage)}</td>'
            f'<td class="asset">{_name(f.asset) if f.asset else "(stage)"}</td></tr>'
        )
    for f in used:
        rows.append(
            f'<tr><td><span class="status">used</span></td><td class="rule">{_name(f.approval)}</td>'
            f'<td class="rule">{_e(f.rule)}</td><td>{_e(f.stage)}</td><td class="asset">{_name(f.asset) if f.asset else "(stage)"}</td></tr>'
        )
    return (
        '<table id="approvals"><thead><tr><th>State</th><th>Approval</th><th>Rule</th><th>Stage</th>'
        f"<th>Asset</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _runs(report: Report) -> str:
    if not report.runs:
        return '<p class="empty">No runs recorded.</p>'
    rows = "".join(
        f"<tr><td>{_when(r['started'])}</td><td>{_name(r['host'])}</td><td>{_e(shown_text(r['command']))}</td>"
        f"<td>{_badge(r['outcome']) if r['outcome'] else _e('—' if r['finished'] else 'unfinished')}</td>"
        f'<td class="rule">{_e((r["run_id"] or "")[:12])}</td></tr>'
        for r in report.runs[-50:]
    )
    more = (
        f'<p class="empty">{len(report.runs) - 50} earlier runs not shown.</p>'
        if len(report.runs) > 50
        else ""
    )
    return (
        "<table><thead><tr><th>Started</th><th>Host</th><th>Command</th><th>Outcome</th><th>Run</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


def _warnings(report: Report) -> str:
    """What the reader must know about the logs (a broken chain, skipped lines), first."""
    notes = report.notes()
    if not notes:
        return ""
    items = "".join(f"<li>{_e(shown_text(note))}</li>" for note in notes)
    return f'<section id="warnings"><h2>Read with care: the logs</h2><ul>{items}</ul></section>'


def render_html(report: Report, out: IO[str], *, title: str | None = None) -> None:
    """Write the report as one self-contained HTML page."""
    open_rows = list(report.open_findings())
    # assets by their outcome, as the stages' table counts them: a stage's own findings
    # (its stage checks) and those naming an asset of another stage are no asset of it
    by_outcome = report.by_outcome()
    kpis = [
        ("", sum(s.assets for s in report.stages), "assets audited"),
        ("", len(open_rows), "open findings"),
        ("block", by_outcome[Outcome.BLOCK.value], "assets blocked"),
        ("approval", by_outcome[Outcome.APPROVAL.value], "assets need approval"),
        ("", len(report.approvals("approved")), "approvals used"),
        ("expired", len(report.approvals("expired")), "approvals expired"),
    ]
    title = title or (
        f"GenAI clearance — {report.production}" if report.production else "GenAI clearance report"
    )
    period = (
        f"{_when(report.first_time)} → {_when(report.last_time)}"
        if report.first_time
        else "no events"
    )
    filters = "; ".join(report.filters.describe())
    sub = f"{period} · {len(report.runs)} run(s) · {len(report.logs)} log(s)" + (
        f" · filters: {_e(filters)}" if filters else ""
    )
    kpi_html = "".join(
        f'<div class="kpi {cls}"><div class="n">{n}</div><div class="l">{label}</div></div>'
        for cls, n, label in kpis
    )
    out.write(
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="sub">{sub}</div></header><main>'
        + _warnings(report)
        + f'<div class="kpis">{kpi_html}</div>'
        f'<section id="summary"><h2>Stages</h2><div class="stages"><div>{_chart(report)}</div>'
        f"<div>{_stage_table(report)}</div></div></section>"
        f'<section id="open"><h2>Open findings</h2>{_findings_table(report)}</section>'
        f'<section id="approvals-section"><h2>Approvals used and expired</h2>{_approvals(report)}</section>'
        f'<section id="runs"><h2>Runs</h2>{_runs(report)}</section>'
        f"<footer>clearance {_e(__version__)} · {report.events} events read from "
        f"{_e(', '.join(report.logs))} · check the chain with <code>clearance verify</code></footer>"
        f"</main><script>{_JS}</script></body></html>\n"
    )
