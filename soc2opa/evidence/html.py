"""A window of evidence as one self-contained HTML file an auditor opens offline.

Inline CSS and SVG, no script and nothing fetched (a CSP forbids it): per SOC 2
criterion a chart of evaluations per day that passed, failed or stayed unknown, with the days
without any evaluation (coverage gaps) marked; the store's waivers with their create, renew and
revoke history and expiry (applied or not), and the waivers files' waivers applied; and a sample
of records, each with what proves it belongs to the store (its hash-chain link, and its Merkle
inclusion proof when the caller supplies one).
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from soc2opa import __version__
from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.evidence.store import Stored
from soc2opa.evidence.views import (
    WORST_FIRST,
    all_days,
    criteria_of,
    criterion_status,
    day_of,
    evaluations,
    waivers_in,
)
from soc2opa.evidence.waiver_history import WaiverEvent, WaiverHistory, other_waivers

# A sampled record's inclusion proof (soc2opa evidence prove's JSON), or None when none exists.
Prover = Callable[[Stored], Mapping[str, Any] | None]
COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "unknown": "#f9a825", "gap": "#9e9e9e"}
SAMPLE_SIZE = 25
_CHART_H, _BAR_W, _LEFT, _BOTTOM = 120, 14, 36, 22

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse;margin:6px 0 12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.mono{font-family:ui-monospace,monospace;font-size:12px}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
.bad{color:#c62828;font-weight:600}.ok{color:#2e7d32;font-weight:600}
.gaps li{display:inline-block;margin:0 8px 4px 0;padding:1px 6px;background:#eee}
svg.chart{display:block;margin:4px 0 8px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _daily(chosen: Sequence[Stored], crit: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in chosen:
        controls = criteria_of(row).get(crit)
        status = criterion_status(row, controls) if controls else None
        if status is not None:
            day = out.setdefault(day_of(row), dict.fromkeys(WORST_FIRST, 0))
            day[status] += 1
    return out


def _chart(crit: str, days: list[str], daily: Mapping[str, Mapping[str, int]],
           gaps: set[str]) -> str:  # fmt: skip
    top = max([sum(d.values()) for d in daily.values()] + [1])
    width = _LEFT + len(days) * _BAR_W + 10
    parts = [
        f'<svg class="chart" data-criterion="{_e(crit)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{_CHART_H + _BOTTOM}" role="img" '
        f'aria-label="{_e(crit)}: evaluations per day by outcome">',
        f'<line x1="{_LEFT}" y1="{_CHART_H}" x2="{width - 6}" y2="{_CHART_H}" stroke="#757575"/>',
        f'<text x="2" y="12" font-size="10">{top}</text>'
        f'<text x="2" y="{_CHART_H}" font-size="10">0</text>',
    ]
    for i, day in enumerate(days):
        x = _LEFT + i * _BAR_W
        if day in gaps:
            parts.append(
                f'<rect class="gap" data-day="{day}" x="{x + 1}" y="0" width="{_BAR_W - 2}" '
                f'height="{_CHART_H}" fill="{COLOURS["gap"]}" fill-opacity="0.35">'
                f"<title>{day}: no evaluation</title></rect>"
            )
        y = float(_CHART_H)
        for status in ("pass", "unknown", "fail"):
            n = daily.get(day, {}).get(status, 0)
            if not n:
                continue
            h = n / top * (_CHART_H - 16)
            y -= h
            parts.append(
                f'<rect class="bar {status}" data-day="{day}" x="{x + 1}" y="{y:.1f}" '
                f'width="{_BAR_W - 2}" height="{h:.1f}" fill="{COLOURS[status]}">'
                f"<title>{day}: {n} {status}</title></rect>"
            )
        if i % 7 == 0 or (i == len(days) - 1 and i % 7 > 3):
            parts.append(f'<text x="{x}" y="{_CHART_H + 14}" font-size="9">{day[5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _criterion_section(crit: str, days: list[str], chosen: Sequence[Stored],
                       gaps: set[str]) -> str:  # fmt: skip
    daily = _daily(chosen, crit)
    totals = {s: sum(d[s] for d in daily.values()) for s in WORST_FIRST}
    no_eval = sorted(d for d in days if d not in daily)
    return (
        f'<section class="criterion" id="crit-{_e(crit)}" data-criterion="{_e(crit)}">'
        f"<h3>{_e(crit)} {_e(CRITERIA.get(crit, ''))}</h3>"
        f'<div class="totals">evaluations: <span class="ok">{totals["pass"]} pass</span>, '
        f'<span class="bad">{totals["fail"]} fail</span>, {totals["unknown"]} unknown; '
        f"{len(no_eval)} of {len(days)} days without an evaluation of this criterion</div>"
        f"{_chart(crit, days, daily, gaps)}</section>"
    )


def _waivers(chosen: Sequence[Stored], last_day: str,
             histories: Sequence[WaiverHistory]) -> str:  # fmt: skip
    waivers = other_waivers(chosen, histories) if histories else waivers_in(chosen)
    if not waivers:
        return "<p>No waiver from a waivers file was applied in this window.</p>"
    rows = []
    for w in waivers.values():
        expires = w["expires"]
        if expires is None:
            state = "expiry not recorded"
        elif expires < last_day:
            state = "expired before the window ended"
        else:
            left = (date.fromisoformat(expires) - date.fromisoformat(last_day)).days
            state = f"{left} days left after the window"
        rows.append(
            f'<tr class="waiver" data-ref="{_e(w["ref"])}"><td class="mono">{_e(w["ref"])}</td>'
            f'<td>{_e(w["control"])}</td><td class="mono">{_e(w["resource"] or "?")}</td>'
            f"<td>{_e(w['owner'] or '?')}</td><td>{_e(w['ticket'] or '')}</td>"
            f"<td>{_e(expires or '?')}</td><td>{_e(state)}</td><td>{len(w['seqs'])}</td>"
            f"<td>{_e(w['reason'] or '')}</td></tr>"
        )
    return (
        "<table><tr><th>Waiver</th><th>Control</th><th>Resource</th><th>Owner</th>"
        "<th>Ticket</th><th>Expires</th><th>Expiry</th><th>Evaluations</th><th>Reason</th></tr>"
        + "".join(rows) + "</table>"
    )  # fmt: skip


_DONE = {"create": "created", "renew": "renewed", "revoke": "revoked"}


def _event_item(e: WaiverEvent) -> str:
    expiry = (f"; expiry {_e(e.previous_expires)} &rarr; {_e(e.expires)}" if e.previous_expires
              else (f"; expires {_e(e.expires)}" if e.expires else ""))  # fmt: skip
    ticket = f"; ticket {_e(e.ticket)}" if e.ticket else ""
    outside = "" if e.in_window else " (before the window)"
    return (
        f'<li class="waiver-event" data-action="{_e(e.action)}" data-seq="{e.seq}">'
        f"{_e(e.recorded_at)}: <b>{_e(_DONE.get(e.action, e.action))}</b>{outside}, record "
        f"{e.seq}, approved by {_e(e.approver or '?')}{expiry}{ticket}; reason: "
        f'{_e(e.reason)} <span class="mono">{_e(e.record_hash[:16])}&hellip;</span></li>'
    )


def _store_waivers(histories: Sequence[WaiverHistory]) -> str:
    if not histories:
        return "<p>The evidence store holds no waiver in force or recorded in this window.</p>"
    rows = []
    for h in histories:
        left = (date.fromisoformat(h.expires) - date.fromisoformat(h.as_of)).days
        state = {"revoked": "revoked", "expired": f"expired on {h.expires}"}.get(
            h.status, f"live, {left} days left")  # fmt: skip
        applied = ", ".join(str(s) for s in h.applied_in) or "none"
        rows.append(
            f'<tr class="store-waiver" data-id="{_e(h.id)}" data-state="{_e(h.status)}">'
            f'<td class="mono">{_e(h.id)}</td><td>{_e(h.control)}</td>'
            f'<td class="mono">{_e(h.resource)}</td><td>{_e(h.owner)}</td>'
            f"<td>{_e(h.ticket or '')}</td><td>{_e(h.expires)}</td>"
            f"<td>{_e(state)} on {_e(h.as_of)}</td><td>{_e(applied)}</td>"
            f"<td><ol>{''.join(_event_item(e) for e in h.events)}</ol></td></tr>"
        )
    return (
        '<table id="store-waivers"><tr><th>Waiver</th><th>Control</th><th>Resource</th>'
        "<th>Owner</th><th>Ticket</th><th>Expires</th><th>State</th>"
        "<th>Applied in evaluations (seq)</th><th>History (create, renew, revoke)</th></tr>"
        + "".join(rows) + "</table>"
    )  # fmt: skip


def sample_rank(seed: str, record_hash: str) -> str:
    """A record's place in the draw: SHA-256 (hex) of the UTF-8 text "SEED:RECORD_HASH"."""
    return hashlib.sha256(f"{seed}:{record_hash}".encode()).hexdigest()


def default_seed(chosen: Sequence[Stored]) -> str:
    """The seed when none is given: the record_hash of the window's newest evaluation."""
    return chosen[-1].record_hash if chosen else ""


def sample(chosen: Sequence[Stored], size: int = SAMPLE_SIZE, seed: str | None = None
           ) -> list[Stored]:  # fmt: skip
    """A reproducible sample: the `size` records with the smallest sample_rank under the seed,
    in seq order. Anyone with SHA-256 can redraw it from the seed and the records' hashes, in
    any language; the same seed and window always give the same records."""
    key = default_seed(chosen) if seed is None else seed
    ranked = sorted(chosen, key=lambda r: (sample_rank(key, r.record_hash), r.seq))
    return sorted(ranked[:size], key=lambda r: r.seq)


def _proof_cell(row: Stored, prove: Prover | None) -> str:
    proof = prove(row) if prove is not None else None
    link = (
        f'hash chain: prev_hash <span class="mono">{_e(row.prev_hash)}</span> '
        f"(record {row.seq - 1}'s record_hash)"
    )
    if proof is None:
        return f'<td class="proof chain">{link}; no checkpoint covers it yet</td>'
    path = "".join(f'<li class="mono">{_e(h)}</li>' for h in proof.get("proof", []))
    return (
        f'<td class="proof inclusion">Merkle inclusion: leaf {_e(proof.get("leaf_index"))} of '
        f"{_e(proof.get('tree_size'))} in checkpoint {_e(proof.get('checkpoint_id'))}; audit "
        f'path:<ol>{path}</ol>signed checkpoint:<pre class="mono">'
        f"{_e(proof.get('checkpoint', ''))}</pre><details><summary>proof JSON (save it and run "
        f'soc2opa evidence verify-proof FILE --public-key KEY)</summary><pre class="mono">'
        f"{_e(json.dumps(proof, indent=1, sort_keys=True))}</pre></details>{link}</td>"
    )


def _samples(rows: Sequence[Stored], prove: Prover | None) -> str:
    out = []
    for row in rows:
        rec, ci = row.record, row.record.get("ci", {})
        failing = sorted(cid for cid, c in rec.get("controls", {}).items() if c["failing"])
        run = ci.get("run_url") or ""
        out.append(
            f'<tr class="sample" data-seq="{row.seq}"><td>{row.seq}</td>'
            f"<td>{_e(row.recorded_at)}</td><td>{_e(row.kind)}</td>"
            f'<td>{_e(rec["plan"]["name"])}<br><span class="mono">sha256 '
            f"{_e(rec['plan']['sha256'])}</span></td>"
            f"<td>{_e(ci.get('repository') or '')} {_e(ci.get('commit') or '')}<br>"
            f"{_e(run)}</td><td>exit {_e(rec.get('exit_code'))}; failing controls: "
            f"{_e(', '.join(failing) or 'none')}</td>"
            f'<td class="mono">{_e(row.record_hash)}</td>{_proof_cell(row, prove)}</tr>'
        )
    return (
        "<table><tr><th>seq</th><th>Ended (UTC)</th><th>Kind</th><th>Plan</th><th>Where</th>"
        "<th>Outcome</th><th>record_hash</th><th>Proof</th></tr>" + "".join(out) + "</table>"
    )


def report_html(
    rows: Sequence[Stored], since: str | None, until: str | None, *,
    chain: str = "", prove: Prover | None = None, histories: Sequence[WaiverHistory] = (),
    sample_size: int = SAMPLE_SIZE, seed: str | None = None,
) -> str:  # fmt: skip
    """The window as one HTML page; chain says how the whole store verified, prove gives a
    record's inclusion proof (None while no checkpoint covers it), and histories are the store's
    waivers (waiver_histories). sample_size records are drawn with seed (default: the newest
    evaluation's record_hash); the page states both, the population and the method."""
    chosen = evaluations(rows)
    first = since or (day_of(chosen[0]) if chosen else date.today().isoformat())
    last = until or (day_of(chosen[-1]) if chosen else first)
    days = all_days(first, last) if first <= last else []
    seen = {day_of(r) for r in chosen}
    gaps = {d for d in days if d not in seen}
    criteria = sorted({k for r in chosen for k in criteria_of(r)}, key=criterion_sort_key)
    judged = [c for c in criteria if _daily(chosen, c)]
    undecided = [c for c in criteria if c not in judged]
    key = default_seed(chosen) if seed is None else seed
    picked = sample(chosen, sample_size, key)
    legend = "".join(
        f'<span><i class="sw" style="background:{COLOURS[s]}"></i>{label}</span>'
        for s, label in (("pass", "pass"), ("fail", "fail"), ("unknown", "unknown"),
                         ("gap", "no evaluation that day"))
    )  # fmt: skip
    gap_list = "".join(f'<li class="gap" data-day="{d}">{d}</li>' for d in sorted(gaps))
    proof_note = (
        "each with its Merkle inclusion proof against a signed checkpoint"
        if prove is not None else "each with its hash-chain link (the predecessor's record_hash)"
    )  # fmt: skip
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>soc2opa evidence {first} to {last}</title>",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>SOC 2 evidence: {first} to {last} (UTC)</h1>",
        f'<p id="summary">{len(chosen)} evaluations (records '
        f"{chosen[0].seq if chosen else '-'} to {chosen[-1].seq if chosen else '-'}) on "
        f"{len(seen)} of {len(days)} days; {len(gaps)} days without any evaluation. "
        f'Store check: <span id="chain">{_e(chain or "not checked")}</span>. '
        f"Written by soc2opa {__version__}.</p>",
        f'<div class="legend">{legend}</div>',
        "<h2>Criteria over time</h2>",
        "".join(_criterion_section(c, days, chosen, gaps) for c in judged)
        or "<p>No criterion was judged in this window.</p>",
        f'<p id="undecided">Criteria whose controls a plan cannot decide (runtime evidence) '
        f"or that had nothing to judge: {_e(', '.join(undecided))}.</p>" if undecided else "",
        f'<h2>Coverage gaps</h2><ul class="gaps" id="gaps">{gap_list}</ul>'
        if gaps else "<h2>Coverage gaps</h2><p>Every day has at least one evaluation.</p>",
        "<h2>Waivers</h2><h3>Recorded in the evidence store</h3>", _store_waivers(histories),
        "<h3>From waivers files</h3>", _waivers(chosen, last, histories),
        "<h2>Sampled records</h2>",
        f'<p id="sample-method" data-seed="{_e(key)}" data-size="{sample_size}" '
        f'data-population="{len(chosen)}" data-drawn="{len(picked)}">'
        f"{len(picked)} of the {len(chosen)} evaluations of the window (the population), "
        f'asked for {sample_size}, drawn with the seed <span class="mono">{_e(key)}</span>'
        f"{' (the newest record_hash: the default)' if seed is None else ''}: each record's "
        'rank is SHA-256 of the text "SEED:RECORD_HASH" (hex), and the records with the '
        f"smallest ranks are taken. To redraw it: <span class=\"mono\">soc2opa evidence export "
        f"STORE --format html --from {_e(first)} --to {_e(last)} --sample {sample_size} --seed "
        f"SEED</span>, or rank the record hashes yourself. Sampled records (seq): "
        f'<span id="sampled-seqs">{", ".join(str(r.seq) for r in picked)}</span>; '
        f"{proof_note}.</p>",
        _samples(picked, prove),
        "</body></html>\n",
    ])  # fmt: skip
