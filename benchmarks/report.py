"""Medians, ratios, issue 15's targets, the Markdown table and the plot of a benchmark run."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by `make bench`, scripts/bench.py --write; edit outside) -->"
END = "<!-- bench:end -->"
TOOLS = (
    "soc2opa",
    "soc2opa --jobs 1",
    "soc2opa, cold cache",
    "soc2opa --warm",
    "soc2opa --opa-url",
    "conftest",
    "checkov",
    "lower bound",
    "floor",
)
MB = 1024 * 1024


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Per plan and tool: median seconds and peak RSS, and ratios to the floor of the same run."""
    out: dict[str, Any] = {}
    for name, case in results["cases"].items():
        tools: dict[str, Any] = {}
        for tool, runs in case["tools"].items():
            tools[tool] = {
                "seconds": _median(runs, "seconds"),
                "min": min(r["seconds"] for r in runs),
                "max": max(r["seconds"] for r in runs),
                "rss": _median(runs, "peak_rss"),
                "runs": len(runs),
            }
        floor = tools.get("floor")
        for t in tools.values():
            t["x_floor"] = t["seconds"] / floor["seconds"] if floor else None
            t["rss_x_floor"] = t["rss"] / floor["rss"] if floor else None
        out[name] = {"kind": case["kind"], "n": case["n"], "tools": tools}
    return out


def _synthetic(summary: dict[str, Any], n: int, tool: str) -> dict[str, Any] | None:
    case = summary.get(f"synthetic {n}")
    return case["tools"].get(tool) if case else None


def targets(results: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Issue 15's targets as (target, measured, verdict); verdict 'met', 'not met' or 'not run'."""
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "not run" if ok is None else ("met" if ok else "**not met**")

    controls = results["catalog"]["controls"]
    rows.append(
        ("whole catalog: >= 240 controls", f"{controls} controls", verdict(controls >= 240))
    )
    s10k, f10k = _synthetic(summary, 10_000, "soc2opa"), _synthetic(summary, 10_000, "floor")
    ratio = s10k["seconds"] / f10k["seconds"] if s10k and f10k else None
    rows.append(
        (
            "10k resources: <= 2x the floor",
            f"{ratio:.1f}x" if ratio else "-",
            verdict(None if ratio is None else ratio <= 2),
        )
    )
    lb = _synthetic(summary, 10_000, "lower bound")
    if lb and f10k:
        rows.append(
            (
                "for scale, not a target: each control reading one attribute, at 10k",
                f"{lb['seconds'] / f10k['seconds']:.1f}x the floor's time, "
                f"{lb['rss'] / f10k['rss']:.1f}x its peak RSS",
                "lower bound",
            )
        )
    ck = _synthetic(summary, 10_000, "checkov")
    speedup = ck["seconds"] / s10k["seconds"] if ck and s10k else None
    rows.append(
        (
            "10k resources: >= 50x faster than Checkov",
            f"{speedup:.0f}x" if speedup else "-",
            verdict(None if speedup is None else speedup >= 50),
        )
    )
    s100 = _synthetic(summary, 100, "soc2opa")
    w100 = _synthetic(summary, 100, "soc2opa --warm")
    best100 = min((x["seconds"] for x in (s100, w100) if x), default=None)
    rows.append(
        (
            "100 resources: <= 0.3 s end to end",
            (f"{s100['seconds']:.2f} s" if s100 else "-")
            + (f"; {w100['seconds']:.2f} s with --warm" if w100 else ""),
            verdict(None if best100 is None else best100 <= 0.3),
        )
    )
    s100k = _synthetic(summary, 100_000, "soc2opa")
    growth = s100k["seconds"] / s10k["seconds"] if s100k and s10k else None
    rows.append(
        (
            "100k resources: <= 12x the 10k time",
            f"{growth:.1f}x" if growth else "-",
            verdict(None if growth is None else growth <= 12),
        )
    )
    worst: tuple[float, int] | None = None
    for case in summary.values():
        t = case["tools"].get("soc2opa")
        if case["kind"] != "synthetic" or not t or t["rss_x_floor"] is None:
            continue
        if worst is None or t["rss_x_floor"] > worst[0]:
            worst = (t["rss_x_floor"], case["n"])
    rows.append(
        (
            "peak RSS <= 1.5x the floor's at every size",
            f"worst {worst[0]:.1f}x (at {worst[1]:,})" if worst else "-",
            verdict(None if worst is None else worst[0] <= 1.5),
        )
    )
    batch = next((c for c in summary.values() if c["kind"] == "batch"), None)
    bt = batch["tools"].get("soc2opa") if batch else None
    batch_name = next((k for k, c in summary.items() if c["kind"] == "batch"), "batch")
    rows.append(
        (
            "batch: 100 plans of 100 resources in <= 10 s",
            f"{bt['seconds']:.1f} s ({batch_name})" if bt else "-",
            verdict(None if bt is None or batch_name != "batch 100x100" else bt["seconds"] <= 10),
        )
    )
    return rows


def _mb(b: float) -> str:
    return f"{b / MB:,.0f}"


def markdown(results: dict[str, Any], summary: dict[str, Any], plot_name: str) -> str:
    """The generated part of docs/benchmark.md."""
    m, v, s, load = results["machine"], results["versions"], results["settings"], results["load"]
    cat = results["catalog"]
    lines = [
        BEGIN,
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}. Load average (1 min) during the run: {load['min']:.1f} to "
        f"{load['max']:.1f}, median {load['median']:.1f}"
        + (
            f" on {m['cores']} cores: the machine was shared, so times are inflated and noisy."
            if load["median"] > (m["cores"] or 1)
            else "."
        ),
        f"Tools: {v['opa']}; {v['conftest'].replace(chr(10), ' ')}; {v['soc2opa']}"
        + (f"; Checkov {v['checkov']} (own virtualenv)" if v.get("checkov") else "")
        + f". Catalog: {cat['controls']} controls, bundle revision {cat['revision']}.",
        f"Median of {s['runs']} runs per tool and plan"
        + (
            f" (Checkov: 1 run from {s['checkov_one_run_from']:,} resources, it is slow)"
            if s["checkov_sizes"]
            else ""
        )
        + (
            "; **an interrupted run: only the plans listed below were measured**. "
            if results.get("partial")
            else f"; the whole run took {results['wall_seconds'] / 60:.1f} min. "
        )
        + f"Synthetic plans: `benchmarks/synth.py`, seed {s['seed']}"
        + (f" ({s['shape']})" if s.get("shape") else "")
        + ", fixture digest "
        f"{s['synth_digest']}. x floor = median / the floor's median in the same run.",
        "",
        "### Targets (issue 15)",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
        *(f"| {t} | {meas} | {verd} |" for t, meas, verd in targets(results, summary)),
        "",
        "### Results",
        "",
        "| plan | resources | MB | tool | median s | min-max s | x floor | peak RSS MB"
        " | x floor RSS | runs |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, case in summary.items():
        raw = results["cases"][name]
        size = f"{raw['bytes'] / 1e6:.1f}" if raw.get("bytes") else "-"
        label = name if case["kind"] != "real" else f"{name}: `{Path(raw['plan']).name}`"
        for tool in TOOLS:
            t = case["tools"].get(tool)
            if not t:
                continue
            xf = f"{t['x_floor']:.1f}" if t["x_floor"] is not None else "-"
            xr = f"{t['rss_x_floor']:.1f}" if t["rss_x_floor"] is not None else "-"
            lines.append(
                f"| {label} | {case['n']:,} | {size} | {tool} | {t['seconds']:.2f} | "
                f"{t['min']:.2f}-{t['max']:.2f} | {xf} | {_mb(t['rss'])} | {xr} | {t['runs']} |"
            )
    lines += ["", f"![time and peak memory against plan size]({plot_name})", "", END]
    return "\n".join(lines) + "\n"


def standalone(block: str) -> str:
    """A whole Markdown file holding only the generated block."""
    return "# Benchmark\n\n" + block


def splice(doc: str, block: str) -> str:
    """Replace the generated block of `doc`, keeping everything outside the markers."""
    if BEGIN.split(" (")[0] in doc and END in doc:
        head, _, rest = doc.partition(BEGIN.split(" (")[0])
        _, _, tail = rest.partition(END)
        return head + block.rstrip("\n") + tail
    return standalone(block) + ("\n" + doc if doc else "")


def plot(results: dict[str, Any], path: Path) -> None:
    """Time and peak memory against plan size (synthetic plans), log-log, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    summary = summarise(results)
    synth = sorted((c for c in summary.values() if c["kind"] == "synthetic"), key=lambda c: c["n"])
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=90)
    for tool in TOOLS:
        pts = [(c["n"], c["tools"][tool]) for c in synth if tool in c["tools"]]
        if not pts:
            continue
        xs = [n for n, _ in pts]
        style = "--" if tool == "floor" else "-"
        ax_t.plot(xs, [t["seconds"] for _, t in pts], style, marker="o", label=tool)
        ax_m.plot(xs, [t["rss"] / MB for _, t in pts], style, marker="o", label=tool)
    for ax, ylabel in ((ax_t, "wall time, s (median)"), (ax_m, "peak RSS of process tree, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("resources in plan")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax_t.legend(fontsize=8)
    load = results["load"]["median"]
    fig.suptitle(
        f"soc2opa benchmark, {results['catalog']['controls']} controls, "
        f"{results['machine']['cores']} cores, load avg {load:.1f}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
