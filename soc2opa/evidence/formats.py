"""Every export format of a window of evidence, by name."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from soc2opa.errors import UsageError
from soc2opa.evidence.export import export, window
from soc2opa.evidence.hdf import heimdall
from soc2opa.evidence.html import SAMPLE_SIZE, Prover, report_html
from soc2opa.evidence.intoto import intoto_lines
from soc2opa.evidence.oscal import assessment_results
from soc2opa.evidence.store import Stored
from soc2opa.evidence.waiver_history import waiver_histories

EXPORT_FORMATS = ("jsonl", "csv", "oscal-ar", "hdf", "intoto", "html")


def export_window(
    rows: Iterable[Stored], fmt: str, since: str | None, until: str | None, *,
    key: Ed25519PrivateKey | None = None, chain: str = "",
    prove: Prover | None = None, sample_size: int | None = None, seed: str | None = None,
) -> str:  # fmt: skip
    """The records of [since, until] (UTC days) as text in the named format, with the store's
    waivers that had a lifecycle record in the window or were in force during it."""
    if fmt != "html" and (sample_size is not None or seed is not None):
        raise UsageError("--sample and --seed choose the HTML report's sample: use --format html")
    every = list(rows)
    if fmt in ("jsonl", "csv"):
        return export(every, fmt, since, until)
    chosen = window(every, since, until)
    histories = waiver_histories(every, since, until)
    if fmt == "oscal-ar":
        return assessment_results(chosen, since, until, histories)
    if fmt == "hdf":
        return heimdall(chosen, since, until, histories)
    if fmt == "html":
        return report_html(
            chosen, since, until, chain=chain, prove=prove, histories=histories,
            sample_size=SAMPLE_SIZE if sample_size is None else sample_size, seed=seed,
        )  # fmt: skip
    if fmt == "intoto":
        if key is None:
            raise UsageError("--format intoto signs: give the key with --key FILE or --key-env VAR")
        return intoto_lines(chosen, key)
    raise UsageError(f"--format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
