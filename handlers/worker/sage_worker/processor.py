"""The example processor: normalise every CSV input of an execution.

A processor is any callable ``(execution_dir: Path, config_text: str) -> dict`` (JSON-serialisable).
The worker uploads what it leaves in ``execution_dir`` under names starting with ``output`` or ``log``.

This one, for each ``*.csv`` input (``output*`` files are skipped), writes ``output_<name>.csv`` with the
header upper-cased and every cell trimmed, and appends a line with the row count to ``log.txt``. The
YAML config text is not interpreted (it is written next to the inputs as ``config.yaml`` for processors
that need it). A row whose cell count differs from the header's, or a file without a header, raises
:class:`MalformedCSVError`; nothing of that file is written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

LOG_FILE = "log.txt"


class MalformedCSVError(ValueError):
    """A CSV input that cannot be processed: empty, or with ragged rows."""


def _transform(name: str, text: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise MalformedCSVError(f"{name}: the file is empty (no header row)") from None
    except csv.Error as error:
        raise MalformedCSVError(f"{name}: {error}") from None
    width = len(header)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if not row:
                continue  # blank line
            if len(row) != width:
                raise MalformedCSVError(
                    f"{name}: line {reader.line_num} has {len(row)} cells, the header has {width}"
                )
            rows.append([cell.strip() for cell in row])
    except csv.Error as error:
        raise MalformedCSVError(f"{name}: line {reader.line_num}: {error}") from None
    return [cell.strip().upper() for cell in header], rows


def process_csv_files(execution_dir: Path, config_text: str) -> dict[str, Any]:
    """Transform every CSV input in ``execution_dir``; return ``{"files": {...}, "total_rows": n}``."""
    execution_dir = Path(execution_dir)
    inputs = sorted(
        path
        for path in execution_dir.glob("*.csv")
        if path.is_file() and not path.name.startswith("output")
    )
    files: dict[str, dict[str, Any]] = {}
    log_lines: list[str] = []
    for path in inputs:
        header, rows = _transform(path.name, path.read_text(encoding="utf-8-sig"))
        output_name = f"output_{path.name}"
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        (execution_dir / output_name).write_text(buffer.getvalue(), encoding="utf-8")
        files[path.name] = {"output": output_name, "rows": len(rows), "columns": header}
        log_lines.append(f"{path.name}: {len(rows)} rows -> {output_name}")
    if not inputs:
        log_lines.append("no CSV inputs found")
    total = sum(entry["rows"] for entry in files.values())
    log_lines.append(f"total rows: {total}")
    (execution_dir / LOG_FILE).write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    return {"files": files, "total_rows": total}
