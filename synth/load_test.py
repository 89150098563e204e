"""Load test of the app (``synth bench app``): many concurrent gradio_client clients against it on
loopback.

Starts ``app.py`` in a subprocess on a free loopback port (or uses --url with --pid), then runs
``--clients`` threads, each with its own gradio_client.Client, calling a random mix of the
endpoints whose models are present, until ``--seconds`` have passed or each client has made
``--requests`` calls (bounded in time and count). Prints per-endpoint counts, failures and p50 /
p95 latency, and the server's resident memory (RSS, the app process plus its children, e.g. the
ffmpeg stream encoders) before, during and after; ends with one JSON line.

    synth bench app [--clients 24] [--seconds 180] [--requests 1000] [--assets DIR] [--stand-ins]
    python -m synth.load_test ...          # the same

--stand-ins: roles whose bundled checkpoint is missing get a tiny randomly initialised model
(clearly reported), so every endpoint is exercised; their latencies measure the app, not a real model.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the source checkout that holds app.py
EXAMPLES = ROOT / "assets" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    import psutil

    try:
        process = psutil.Process(pid)
        processes = [process] + process.children(recursive=True)
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for p in processes:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1024 ** 2


def make_stand_ins(assets: Path, out: Path) -> list[str]:
    """A folder with the bundled checkpoints linked in and tiny random ones for missing roles."""
    import dataclasses

    import torch

    from synth.audio import MelFeatures
    from synth.checkpoint import save_checkpoint
    from synth.models.composer import Composer, ComposerConfig
    from synth.models.wavenet import WaveNet, WaveNetConfig
    from synth.services.models import ROLES

    out.mkdir(parents=True, exist_ok=True)
    for entry in assets.iterdir():
        if entry.is_dir():
            (out / entry.name).symlink_to(entry.resolve())
    tiny = dict(n_stacks=2, layers_per_stack=5, residual_channels=16, gate_channels=32, skip_channels=32,
                cond_hidden_channels=16)
    mel = MelFeatures(hop_length=256)
    made = []
    torch.manual_seed(0)
    makers = {
        ROLES["speech"].folders: lambda: (WaveNet(WaveNetConfig(**tiny, n_speakers=2)), {"speakers": ["a", "b"]}),
        ROLES["vocoder"].folders: lambda: (WaveNet(WaveNetConfig(**tiny, cond_channels=mel.n_mels, upsample_scales=(16, 16))),
                          {"features": {"kind": "mel", **dataclasses.asdict(mel)}}),
        ROLES["piano"].folders: lambda: (WaveNet(WaveNetConfig(**tiny, cond_channels=176, upsample_scales=(16, 16))),
                        {"features": {"kind": "piano_roll"}}),
        ROLES["composer"].folders: lambda: (Composer(ComposerConfig(hidden_size=64, n_layers=1, nade_hidden=32)), {}),
    }  # handwriting has no stand-in: its endpoint is left out when its checkpoint is missing
    for names, make in makers.items():
        if not any((out / name).exists() for name in names):
            model, metadata = make()
            save_checkpoint(model.eval(), out / names[0], metadata=metadata, card="# stand-in (random weights)\n")
            made.append(names[0])
    return made


def endpoint_calls(models: dict) -> dict:
    """Endpoint name -> a function of (client, rng) making one request with valid inputs."""
    from gradio_client import handle_file

    clip = handle_file(str(EXAMPLES / "welcome_allison.wav"))
    midis = [handle_file(str(EXAMPLES / n)) for n in ("c_major_scale.mid", "bach_bwv269_bars1-4.mid")]
    speakers = models["speech"].get("speakers") or [None]
    voices = models["vocoder"].get("speakers") or [None]
    calls = {
        "models": lambda c, r: c.predict(api_name="/models"),
        "render_midi": lambda c, r: c.predict(r.choice(midis), api_name="/render_midi"),
    }
    if models["speech"]["present"]:
        calls["generate_speech"] = lambda c, r: c.predict(r.choice(speakers), round(r.uniform(0.2, 1.0), 2), 1.0,
                                                          r.randrange(1000), api_name="/generate_speech")
    if models["vocoder"]["present"]:
        calls["resynthesise"] = lambda c, r: c.predict(clip, r.choice(voices), r.randrange(1000), api_name="/resynthesise")
    if models["piano"]["present"]:
        calls["play_midi"] = lambda c, r: c.predict(r.choice(midis), 1, 1.0, r.randrange(1000), api_name="/play_midi")
    if models["composer"]["present"]:
        calls["compose"] = lambda c, r: c.predict(r.choice([2, 4]), 1.0, r.randrange(1000), 100, None, api_name="/compose")
    if models["handwriting"]["present"]:
        texts = ["a quiet morning", "synth writes by hand", "the old river", "Hello, world!"]
        calls["write_handwriting"] = lambda c, r: c.predict(r.choice(texts), None, 1.0, r.randrange(1000),
                                                            api_name="/write_handwriting")
    return calls


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, default=24, help="concurrent gradio_client clients (threads)")
    parser.add_argument("--seconds", type=float, default=180.0, help="stop starting requests after this long")
    parser.add_argument("--requests", type=int, default=1000, help="at most this many requests per client")
    parser.add_argument("--assets", type=Path, default=ROOT / "assets", help="bundled checkpoints folder (SYNTH_ASSETS)")
    parser.add_argument("--stand-ins", action="store_true", help="tiny random models for roles whose checkpoint is missing")
    parser.add_argument("--url", default=None, help="test an app already running here instead of starting one")
    parser.add_argument("--pid", type=int, default=None, help="with --url: the app's process id, for its memory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    args = parser.parse_args(argv)
    if args.url is None and not (ROOT / "app.py").is_file():
        parser.error(f"{ROOT / 'app.py'} not found; the load test starts the app from a source checkout (or give --url)")
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 3600 or not 1 <= args.requests <= 100_000:
        parser.error("clients must be 1-256, seconds 1-3600, requests 1-100000")
    from gradio_client import Client

    work = Path(tempfile.mkdtemp(prefix="synth-load-"))
    stand_ins: list[str] = []
    assets = args.assets.resolve()
    if args.stand_ins:
        stand_ins = make_stand_ins(assets, work / "assets")
        assets = work / "assets"
    server = None
    url, pid = args.url, args.pid
    if url is None:
        port = free_port()
        env = {**os.environ, "SYNTH_ASSETS": str(assets), "SYNTH_PORT": str(port), "SYNTH_HOST": "127.0.0.1",
               "GRADIO_TEMP_DIR": str(work / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False"}
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT,
                                  stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT)
        url, pid = f"http://127.0.0.1:{port}/", server.pid
    try:
        started = time.time()
        while True:
            try:
                client = Client(url, verbose=False)
                break
            except Exception:
                if server is not None and server.poll() is not None:
                    raise SystemExit(f"the app exited; see {work / 'server.log'}")
                if time.time() - started > 300:
                    raise SystemExit("the app did not answer within 300 s")
                time.sleep(1)
        models = client.predict(api_name="/models")
        models = json.loads(models) if isinstance(models, str) else models
        calls = endpoint_calls(models["models"])
        for name, call in calls.items():  # warm-up: every model loaded, every path run once
            call(client, random.Random(0))
        rss = [(0.0, rss_mb(pid))] if pid else []
        load_before = os.getloadavg()[0]
        print(f"app at {url} (pid {pid}); endpoints: {', '.join(calls)}; stand-ins: {stand_ins or 'none'}", flush=True)

        results: list[tuple[str, float, str | None]] = []
        lock = threading.Lock()
        t0 = time.time()
        deadline = t0 + args.seconds

        def run_client(index: int) -> None:
            rng = random.Random(args.seed * 1000 + index)
            mine = Client(url, verbose=False)
            for _ in range(args.requests):
                if time.time() >= deadline:
                    break
                name = rng.choice(list(calls))
                start = time.perf_counter()
                error = None
                try:
                    calls[name](mine, rng)
                except Exception as exc:  # every failure is counted and shown
                    error = f"{type(exc).__name__}: {str(exc)[:200]}"
                with lock:
                    results.append((name, time.perf_counter() - start, error))

        threads = [threading.Thread(target=run_client, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(10)
            if pid:
                rss.append((time.time() - t0, rss_mb(pid)))
            with lock:
                done = len(results)
            print(f"  {time.time() - t0:5.0f} s: {done} requests, RSS {rss[-1][1] if rss else float('nan'):.0f} MB", flush=True)
        wall = time.time() - t0
        load_after = os.getloadavg()[0]
        if pid:
            time.sleep(15)  # idle: what the server keeps once the load is gone
            rss.append((time.time() - t0, rss_mb(pid)))
        still = client.predict(api_name="/models")  # the server answers after the load
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    report = {"clients": args.clients, "seconds": round(wall, 1), "requests": len(results),
              "failures": sum(1 for r in results if r[2]), "stand_ins": stand_ins, "endpoints": {},
              "rss_mb_before": round(rss[0][1]) if rss else None, "rss_mb_after": round(rss[-1][1]) if rss else None,
              "rss_mb_series": [(round(t), round(m)) for t, m in rss], "answers_after": bool(still),
              "load_average_before": round(load_before, 1), "load_average_after": round(load_after, 1),
              "models": {role: {k: v for k, v in m.items() if k in ("checkpoint", "present", "parameters")}
                         for role, m in models["models"].items()}}
    print(f"\n{len(results)} requests from {args.clients} clients in {wall:.0f} s, "
          f"{report['failures']} failed (1-minute load average {load_before:.1f} before, {load_after:.1f} after)\n")
    print(f"| endpoint | requests | failed | p50 s | p95 s | max s |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in calls:
        times = sorted(t for n, t, _ in results if n == name)
        failed = sum(1 for n, _, e in results if n == name and e)
        if not times:
            continue
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        report["endpoints"][name] = {"requests": len(times), "failed": failed, "p50_s": round(statistics.median(times), 2),
                                     "p95_s": round(p95, 2), "max_s": round(times[-1], 2)}
        print(f"| {name} | {len(times)} | {failed} | {statistics.median(times):.2f} | {p95:.2f} | {times[-1]:.2f} |")
    for name, _, error in [r for r in results if r[2]][:10]:
        print(f"failed: {name}: {error}")
    if rss:
        print(f"\nRSS (app + children): before {rss[0][1]:.0f} MB, after (15 s idle) {rss[-1][1]:.0f} MB; "
              f"every 10 s: {' '.join(f'{m:.0f}' for _, m in rss)}")
    print(json.dumps(report))
    return 0 if report["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
