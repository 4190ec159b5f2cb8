"""Debian's mosquitto on 127.0.0.1 for tests and benchmarks: persistent, so a restart keeps a subscriber's queued
session, as a broker in production would."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
from pathlib import Path


class BrokerMissing(RuntimeError):
    pass


class Broker:
    def __init__(self, folder: Path, port: int) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerMissing("needs Debian's mosquitto (scripts/bootstrap.sh installs it)")
        self.conf = folder / "mosquitto.conf"
        # as root, mosquitto drops to its own user and could not write the persistence file in our folder
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {folder}/\nautosave_interval 1\nuser {getpass.getuser()}\n")
        self.binary, self.proc = binary, None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
