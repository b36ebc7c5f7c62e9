"""``harmony-grammar render-dataset``: a JSON Lines file of conversations into a training file.

Each input line is one record (see :mod:`harmony_grammar.integrations.datasets`); each output
row is ``{"input_ids": [...], "loss_mask": [...]}``, as JSON Lines or Parquet.
Workers keep the input order, so the output does not depend on their number.
The output is written to a temporary file beside it and renamed at the end:
an interrupted or stopped run never leaves a file that looks complete.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Optional, Sequence, Union

from harmony_grammar.integrations.datasets import render_record
from harmony_grammar.engine.encoding import HarmonyEncoding, load_harmony_encoding
from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import RenderConversationConfig

__all__ = ["DatasetJob", "Summary", "run_job"]

CHUNK_LINES = 64  # lines per task handed to a worker
PARQUET_ROWS = 1024  # rows per Parquet row group


@dataclass(frozen=True)
class DatasetJob:
    """What to render and how; everything a worker needs, picklable."""

    source: str  # a path, or "-" for stdin
    target: str
    shape: str = "auto"
    train_on: str = "last_turn"
    keep_analysis: bool = False
    output_format: str = "jsonl"
    workers: int = 1
    skip_errors: bool = False
    dialect: str = "oss-harmony"
    template_dir: Optional[str] = None


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    stopped_at: Optional[int] = None  # the line that stopped the run


# A rendered line: (line number, output payload, error message); exactly one of the last two is None.
Result = tuple[int, Union[str, tuple[list[int], list[int]], None], Optional[str]]

_worker_job: Optional[DatasetJob] = None
_worker_encoding: Optional[HarmonyEncoding] = None


def _start_worker(job: DatasetJob) -> None:
    global _worker_job, _worker_encoding
    _worker_job = job
    _worker_encoding = load_harmony_encoding("HarmonyGptOss", dialect=job.dialect, template_dir=job.template_dir)


def _json_row(tokens: list[int], mask: list[int]) -> str:
    return ('{"input_ids":[' + ",".join(map(str, tokens)) + '],"loss_mask":['
            + ",".join(map(str, mask)) + "]}\n")


def render_chunk(chunk: list[tuple[int, bytes]]) -> list[Result]:
    """Render numbered input lines with the worker's job; bad lines become error messages."""
    job, encoding = _worker_job, _worker_encoding
    assert job is not None and encoding is not None, "render_chunk runs in a started worker"
    config = RenderConversationConfig(auto_drop_analysis=not job.keep_analysis)
    out: list[Result] = []
    for number, raw in chunk:
        try:
            text = raw.decode("utf-8")
            tokens, mask = render_record(encoding, text, shape=job.shape, train_on=job.train_on, config=config)
        except UnicodeDecodeError as exc:
            out.append((number, None, f"not UTF-8 at byte {exc.start}"))
            continue
        except (HarmonyError, ValueError, RecursionError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            out.append((number, None, message))
            continue
        out.append((number, _json_row(tokens, mask) if job.output_format == "jsonl" else (tokens, mask), None))
    return out


class _Progress:
    """Lines, lines per second and (for a file) percent and ETA, on one line of a terminal."""

    def __init__(self, stream: IO[str], total_bytes: Optional[int]) -> None:
        self.stream = stream
        self.total = total_bytes
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, lines: int, done_bytes: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        text = f"{lines:,} lines  {lines / elapsed:,.0f} lines/s"
        if self.total:
            fraction = min(done_bytes / self.total, 1.0)
            left = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
            text += f"  {fraction:4.0%}  ETA {int(left) // 60}:{int(left) % 60:02d}"
        self.stream.write("\r" + text + "\x1b[K" + ("\n" if final else ""))
        self.stream.flush()


def _chunks(stream: IO[bytes], counter: list[int]) -> Iterator[list[tuple[int, bytes]]]:
    """Numbered non-blank lines in chunks; ``counter[0]`` follows the bytes read."""
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(stream, 1):
        counter[0] += len(line)
        if line.strip():
            chunk.append((number, line))
            if len(chunk) >= CHUNK_LINES:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class _JsonlWriter:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def write(self, payload: Any) -> None:
        self.handle.write(payload.encode("ascii"))

    def close(self) -> None:
        self.handle.flush()


class _ParquetWriter:
    def __init__(self, handle: IO[bytes]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema([("input_ids", pa.list_(pa.int32())), ("loss_mask", pa.list_(pa.int8()))])
        self.writer = pq.ParquetWriter(handle, self.schema)
        self.rows: list[tuple[list[int], list[int]]] = []

    def write(self, payload: Any) -> None:
        self.rows.append(payload)
        if len(self.rows) >= PARQUET_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            ids, masks = zip(*self.rows)
            self.writer.write_table(self.pa.table({"input_ids": list(ids), "loss_mask": list(masks)},
                                                  schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


def _results(job: DatasetJob, chunks: Iterator[list[tuple[int, bytes]]]) -> Iterator[list[Result]]:
    """Rendered chunks in input order, from this process or from a pool of workers."""
    if job.workers <= 1:
        _start_worker(job)
        for chunk in chunks:
            yield render_chunk(chunk)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(job.workers, initializer=_start_worker, initargs=(job,)) as pool:
        yield from pool.imap(render_chunk, chunks)


def run_job(job: DatasetJob, stderr: IO[str] = sys.stderr, progress: Optional[bool] = None) -> Summary:
    """Render ``job.source`` into ``job.target``; report bad lines on ``stderr`` as ``SOURCE:LINE: error: ...``.

    Raises ``OSError`` when a file cannot be read or written, and ``HarmonyError`` for a bad template folder.
    """
    load_harmony_encoding("HarmonyGptOss", dialect=job.dialect, template_dir=job.template_dir)  # fail early
    summary = Summary()
    name = "<stdin>" if job.source == "-" else job.source
    source: IO[bytes] = sys.stdin.buffer if job.source == "-" else open(job.source, "rb")
    target = Path(job.target)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    show = stderr.isatty() if progress is None else progress
    meter = _Progress(stderr, None if job.source == "-" else os.fstat(source.fileno()).st_size) if show else None
    done_bytes = [0]
    finished = False
    rendered = _results(job, _chunks(source, done_bytes))
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = _ParquetWriter(handle) if job.output_format == "parquet" else _JsonlWriter(handle)
            for results in rendered:
                for number, payload, error in results:
                    if error is not None:
                        if meter:
                            stderr.write("\r\x1b[K")
                        stderr.write(f"{name}:{number}: error: {error}\n")
                        if not job.skip_errors:
                            summary.stopped_at = number
                            break
                        summary.skipped += 1
                    else:
                        writer.write(payload)
                        summary.written += 1
                if summary.stopped_at is not None:
                    break
                if meter:
                    meter.update(summary.written + summary.skipped, done_bytes[0])
            writer.close()
        if summary.stopped_at is None:
            os.replace(partial, target)
            finished = True
        else:
            summary.written = 0  # nothing reaches the target
    finally:
        rendered.close()  # stops the workers
        if not finished:
            try:
                os.unlink(partial)
            except OSError:
                pass
        if source is not sys.stdin.buffer:
            source.close()
    if meter:
        meter.update(summary.written + summary.skipped, done_bytes[0], final=True)
    return summary


def parquet_available() -> bool:
    """Whether ``--output-format parquet`` can run (pyarrow is installed)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def describe(summary: Summary, job: DatasetJob) -> Sequence[str]:
    """The closing lines for stderr."""
    lines = []
    if summary.stopped_at is not None:
        lines.append(f"stopped at line {summary.stopped_at} (--on-error skip goes on past bad lines); "
                     f"{job.target} not written")
    lines.append(f"{summary.written} written, {summary.skipped} skipped")
    return lines
