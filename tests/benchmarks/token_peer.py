"""An eMSP serving a generated token list, in a process of its own (for bench_authorize: the
eMSP's JSON work must not share the benchmarked process's interpreter).

    python -m tests.benchmarks.token_peer PORT TOKENS
"""

from __future__ import annotations

import sys

import uvicorn

from tests.support.emsp import EmspPeer


def main() -> None:
    port, tokens = int(sys.argv[1]), int(sys.argv[2])
    peer = EmspPeer(offers_tokens=True, token_page_max=1000)
    peer.token_count = tokens
    peer.base_url = f"http://127.0.0.1:{port}"
    peer.issued["token-for-emsp"] = "C"
    uvicorn.run(peer.app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
