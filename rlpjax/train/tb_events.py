"""One TensorBoard events file per run: a resumed run folds the earlier sessions' events files into its own.

tensorboardX starts a new events file for every writer, so each resume used to add one (`events.out.tfevents.<time>.
<host>`), and the replayed steps were hidden only by a purge marker. Instead, `fold_earlier_files` reads the earlier
files of the directory, writes their events of steps up to the resume step into the new writer's file (wall times
kept), flushes it, and only then deletes the earlier files: a crash in between leaves duplicates, never a gap.

An events file is a sequence of TFRecords (uint64 length, masked CRC-32C of the length, the serialized `Event`, masked
CRC-32C of it); reading stops at the first truncated or corrupt record (the tail of a killed run).
"""

from __future__ import annotations

import struct

from rlpjax.paths import Path

EVENTS_GLOB = "events.out.tfevents.*"
"""The names tensorboardX gives its events files."""


def read_records(data: bytes) -> list[bytes]:
    """The payloads of the TFRecords in `data`, up to the first truncated or corrupt one."""
    from tensorboardX.record_writer import masked_crc32c

    records, offset = [], 0
    while offset + 12 <= len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        start, end = offset + 12, offset + 12 + length
        if header_crc != masked_crc32c(header) or end + 4 > len(data):
            break
        payload = data[start:end]
        if struct.unpack("<I", data[end:end + 4])[0] != masked_crc32c(payload):
            break
        records.append(payload)
        offset = end + 4
    return records


def events_through(files: list[Path], last_step: int) -> list:
    """The `Event`s of `files` (oldest first) of steps <= `last_step`, as TensorBoard would show them: a purge marker
    (SessionLog.START at step s, what earlier rlpjax versions wrote on resume) drops the events of steps >= s read
    before it. File headers and the markers themselves are left out (the new file has its own header and, once the
    replayed steps are gone, needs no marker)."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    kept = []
    for file in files:
        for payload in read_records(file.read_bytes()):
            event = Event.FromString(payload)
            if event.HasField("session_log"):
                if event.session_log.status == SessionLog.START:
                    kept = [e for e in kept if e.step < event.step]
            elif event.step <= last_step and not event.file_version:
                kept.append(event)
    return kept


def fold_earlier_files(writer, earlier: list[Path], last_step: int) -> None:
    """Copy the events of `earlier` files through `last_step` into `writer`'s (a tensorboardX SummaryWriter) own
    file, flush it, then delete `earlier`.

    The events go straight to the file's record writer (`EventsWriter.write_event`, which takes the same lock as
    tensorboardX's background thread), not through `add_event`'s queue: `flush` does not wait for that queue, and the
    earlier files may only be deleted once their events are in the new file.
    """
    events_file = writer._get_file_writer().event_writer._ev_writer  # tensorboardX's synchronous EventsWriter
    for event in events_through(earlier, last_step):
        events_file.write_event(event)
    events_file.flush()
    for file in earlier:
        file.unlink()
