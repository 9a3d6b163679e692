#!/usr/bin/env python3
"""What metrics and authorization cost: the same load (bench/load.py) against `sundial start`
(every role in one process, SQLite) three ways in one run: plain, with the Prometheus endpoint
on, and with authorization on (a JWT signed here, its JWKS read from a file). Prints
workflows/s and the server's CPU seconds per 1000 workflows for each.

  .venv/bin/python bench/security.py --sundial target/release/sundial -n 500 -k 3

Needs the .venv of tests/python/requirements.txt (the SDK, PyJWT, cryptography).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from cluster import cpu_seconds, free_port, wait_ready


def config(directory: Path, extra: str) -> Path:
    ports = {r: free_port() for r in ("frontend", "history", "matching", "worker")}
    path = directory / "sundial.yaml"
    path.write_text(
        "log:\n  level: warn\nbindOnIP: 127.0.0.1\n"
        f"persistence: {{ numHistoryShards: 4, driver: sqlite, sqlite: {{ filename: {directory / 'bench.db'} }} }}\n"
        "services:\n" + "".join(f"  {r}: {{ port: {p} }}\n" for r, p in ports.items()) + extra)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sundial", required=True)
    ap.add_argument("-n", "--workflows", type=int, default=500)
    ap.add_argument("-k", "--activities", type=int, default=3)
    ap.add_argument("--in-flight", type=int, default=100)
    args = ap.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "bench"
    token = jwt.encode({"sub": "bench", "permissions": ["default:write"]}, key, algorithm="RS256",
                       headers={"kid": "bench"})
    variants = {
        "plain": ("", None),
        "metrics": (f"global:\n  metrics:\n    prometheus:\n      listenAddress: 127.0.0.1:{free_port()}\n", None),
        "authorization": ("global:\n  authorization:\n    jwtKeyProvider:\n      keySourceURIs: [file://{jwks}]\n"
                          "    authorizer: default\n    claimMapper: default\n", token),
    }
    rows = []
    for name, (extra, api_key) in variants.items():
        tmp = Path(tempfile.mkdtemp(prefix=f"sundial-bench-{name}-"))
        jwks = tmp / "jwks.json"
        jwks.write_text(json.dumps({"keys": [jwk]}))
        cfg = config(tmp, extra.replace("{jwks}", str(jwks)))
        subprocess.run([args.sundial, "schema", "setup", "--config", str(cfg)], check=True, capture_output=True)
        proc = subprocess.Popen([args.sundial, "start", "--config", str(cfg)], stdout=subprocess.PIPE, text=True)
        try:
            wait_ready(proc)
            port = cfg.read_text().split("frontend: { port: ")[1].split(" ")[0]
            time.sleep(2)
            before = cpu_seconds(proc.pid)
            cmd = [sys.executable, str(Path(__file__).with_name("load.py")), "--address", f"127.0.0.1:{port}",
                   "-n", str(args.workflows), "-k", str(args.activities), "--in-flight", str(args.in_flight),
                   "--json"]
            if api_key:
                cmd += ["--api-key", api_key]
            load = subprocess.run(cmd, capture_output=True, text=True)
            cpu = cpu_seconds(proc.pid) - before
            if load.returncode != 0:
                print(load.stdout[-2000:], load.stderr[-2000:])
                return 1
            summary = json.loads(load.stdout)[0]
            rows.append((name, summary["workflows_per_s"], 1000 * cpu / args.workflows, summary["p50_ms"]))
        finally:
            proc.terminate()
            proc.wait(15)
    print(f"{'variant':<14} {'wf/s':>8} {'CPU s / 1000 wf':>16} {'p50 ms':>8}")
    for name, rate, cpu, p50 in rows:
        print(f"{name:<14} {rate:>8.1f} {cpu:>16.2f} {p50:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
