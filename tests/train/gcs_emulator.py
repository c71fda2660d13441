"""A local Google Cloud Storage for the gs:// tests: gcp-storage-emulator in a child process on a free localhost
port, in memory, with one bucket, and the environment that points every client rlpjax uses at it.

`python gcs_emulator.py HOST PORT BUCKET` serves; `start(bucket)` launches that and waits until it answers.

One correction to the emulator: real GCS sends the object's generation (`x-goog-generation`) with every media
download, and TensorStore's OCDBT store (orbax's array format) reads it to write its manifest conditionally; the
emulator omits the header, which TensorStore reports as "Malformed StorageGeneration". `serve` adds it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request


def emulator_env(url: str) -> dict[str, str]:
    """Variables that send gcsfs, google-cloud-storage and TensorStore to the emulator at `url`, without any
    credential lookup."""
    return {
        "STORAGE_EMULATOR_HOST": url,  # gcsfs and google-cloud-storage (tensorboardX's events upload)
        "TENSORSTORE_GCS_HTTP_URL": url,  # TensorStore's gcs driver: orbax's arrays
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",  # TensorStore: a fixed bearer token, no credential search
        "FSSPEC_GCS_TOKEN": "anon",  # gcsfs (fsspec config): anonymous, no credential search
        # gcsfs 2026.3+ otherwise uses its zonal / hierarchical-namespace extension, which asks the Storage Control
        # gRPC API for each bucket's layout; the emulator has no such API and every probe retries for minutes.
        # gcsfs's own switch (read when gcsfs is imported) rather than a version pin: real GCS answers the probe
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }


def start(bucket: str, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """(the emulator process, its URL) once it answers its health check."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "127.0.0.1", str(port), bucket],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the GCS emulator exited with status {proc.returncode}") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the GCS emulator did not answer at {url} within {timeout} s")


def serve(host: str, port: int, bucket: str) -> None:
    """Run the emulator (in memory, `bucket` created) until killed, with the download header corrected."""
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    download = objects.download

    def download_with_generation(request, response, storage, *args, **kwargs):
        try:
            found = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
            response["x-goog-generation"] = found["generation"]
            response["x-goog-metageneration"] = found["metageneration"]
        except NotFound:  # the emulator's own handler answers 404
            pass
        return download(request, response, storage, *args, **kwargs)

    objects.download = download_with_generation  # before the server module binds its routes to the handlers
    from gcp_storage_emulator.server import create_server

    create_server(host, port, in_memory=True, default_bucket=bucket).run()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
