"""The project is configured in pyproject.toml; this only ships the top-level templates/ and static/ inside the
`nexus` package when it is built, so an installed copy finds them wherever it is started from."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithAssets(build_py):
    def run(self):
        super().run()
        for folder in ("templates", "static"):
            self.copy_tree(folder, str(Path(self.build_lib) / "nexus" / folder))


setup(cmdclass={"build_py": BuildWithAssets})
