"""The Debian package (cmake/packaging.cmake): cpack builds it from this build's binaries; it
holds loyaltyd and loyaltyctl, the hardened systemd unit, /etc/loyalty/server.toml and
program.toml as conffiles and the docs, with its library dependencies; unpacked into a
throw-away root, the unit's command line (with that root's config) starts a server that takes a
purchase."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import POS_KEY, line, purchase_body

BUILD_DIR = os.path.dirname(harness.LOYALTYD)


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="loyalty-package-")
        built = run("cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
                    "-B", cls.dir)
        assert built.returncode == 0, built.stdout + built.stderr
        debs = [f for f in os.listdir(cls.dir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.dir, debs[0])
        cls.root = os.path.join(cls.dir, "root")
        unpacked = run("dpkg-deb", "-x", cls.deb, cls.root)
        assert unpacked.returncode == 0, unpacked.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_control_names_its_dependencies_and_conffiles(self):
        info = run("dpkg-deb", "-f", self.deb)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertRegex(info.stdout, r"(?m)^Package: loyalty-engine$")
        self.assertRegex(info.stdout, r"(?m)^Version: \d+\.\d+\.\d+$")
        depends = re.search(r"(?m)^Depends: (.*)$", info.stdout).group(1)
        wanted = ["librocksdb", "libssl3", "libboost-json", "adduser"]
        # The Release build links jemalloc (the sanitizer builds do not).
        if "libjemalloc" in run("ldd", harness.LOYALTYD).stdout:
            wanted.append("libjemalloc2")
        for library in wanted:
            self.assertIn(library, depends)
        control = os.path.join(self.dir, "control")
        self.assertEqual(run("dpkg-deb", "-e", self.deb, control).returncode, 0)
        with open(os.path.join(control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/loyalty/server.toml",
                                                "/etc/loyalty/program.toml"])
        for script in ("postinst", "prerm", "postrm"):
            self.assertTrue(os.access(os.path.join(control, script), os.X_OK), script)
        listing = run("dpkg-deb", "-c", self.deb).stdout
        for path in ("./usr/bin/loyaltyd", "./usr/bin/loyaltyctl",
                     "./usr/lib/systemd/system/loyaltyd.service", "./etc/loyalty/server.toml",
                     "./etc/loyalty/program.toml", "./usr/share/doc/loyalty-engine/README.md",
                     "./usr/share/doc/loyalty-engine/api.md"):
            self.assertIn(path, listing)

    def test_the_unit_is_hardened_and_valid(self):
        unit_path = os.path.join(self.root, "usr/lib/systemd/system/loyaltyd.service")
        with open(unit_path) as f:
            unit = f.read()
        for setting in ("User=loyalty", "ProtectSystem=strict", "StateDirectory=loyalty",
                        "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
                        "ExecStart=/usr/bin/loyaltyd --config /etc/loyalty/server.toml"):
            self.assertRegex(unit, rf"(?m)^{re.escape(setting)}$")
        # Checked as installed: in the unpacked root, beside this machine's own units (the
        # targets it orders itself after), with its ExecStart binary where the unit says.
        units = os.path.dirname(unit_path)
        for name in os.listdir("/usr/lib/systemd/system"):
            source = os.path.join("/usr/lib/systemd/system", name)
            if name.endswith((".target", ".slice")) and not os.path.islink(source):
                shutil.copy(source, os.path.join(units, name))
        verified = run("systemd-analyze", "verify", f"--root={self.root}",
                       "/usr/lib/systemd/system/loyaltyd.service")
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        with open(os.path.join(self.root, "etc/loyalty/server.toml")) as f:
            config = f.read()
        self.assertRegex(config, r'(?m)^data_dir = "/var/lib/loyalty/data"')
        self.assertRegex(config, r'(?m)^program = "/etc/loyalty/program.toml"')
        self.assertRegex(config, r'(?m)^listen = "127\.0\.0\.1:')

    def test_the_packaged_server_takes_a_purchase(self):
        loyaltyd = os.path.join(self.root, "usr/bin/loyaltyd")
        version = run(loyaltyd, "--version")
        self.assertEqual(version.returncode, 0, version.stderr)
        self.assertTrue(version.stdout.startswith("loyaltyd "), version.stdout)
        self.assertEqual(run(os.path.join(self.root, "usr/bin/loyaltyctl"), "--version").returncode,
                         0)
        # The unit's command line, with the unpacked root's files for /etc and /var/lib.
        config = os.path.join(self.dir, "server.toml")
        with open(os.path.join(self.root, "etc/loyalty/server.toml")) as f:
            text = f.read().replace("/etc/loyalty/", os.path.join(self.root, "etc/loyalty/"))
        with open(config, "w") as f:
            f.write(text.replace("/var/lib/loyalty/", os.path.join(self.dir, "state/")))
        os.makedirs(os.path.join(self.dir, "state"))  # the unit's StateDirectory
        server = harness.Server.__new__(harness.Server)
        log = open(os.path.join(self.dir, "loyaltyd.log"), "w")
        process = subprocess.Popen([loyaltyd, "--config", config, "--listen", "127.0.0.1:0"],
                                   stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            match = None
            for _ in range(20):  # its one line saying where it listens, once it does
                first = process.stdout.readline()
                match = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
                if match or not first:
                    break
            self.assertIsNotNone(match, "loyaltyd did not say where it listens")
            server.port = int(match.group(1))
            self.assertEqual(server.signup("pkg-1").status, 201)
            bought = server.purchase(purchase_body("pkg-e1", "pkg-1", [line("a", "food", 6400)]),
                                     key=POS_KEY)
            self.assertEqual(bought.status, 200, bought)
            self.assertGreater(bought.json["points_earned"], 0)
            self.assertTrue(os.path.isdir(os.path.join(self.dir, "state", "data")))
        finally:
            process.terminate()
            self.assertEqual(process.wait(60), 0)
            process.stdout.close()
            log.close()


if __name__ == "__main__":
    unittest.main()
