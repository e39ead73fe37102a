"""Static files from the npm registry (package.json): only the files the pages load, never whole packages with
their docs, tests and sources. NPM_STATIC_FILES names them: a URL prefix, a folder in node_modules, and patterns."""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


class NpmFinder(BaseFinder):
    def _packages(self):
        for prefix, (folder, patterns) in settings.NPM_STATIC_FILES.items():
            yield prefix, Path(settings.NODE_MODULES) / folder, patterns

    def _files(self):
        for prefix, root, patterns in self._packages():
            for pattern in patterns:
                for path in sorted(root.glob(pattern)):
                    if path.is_file():
                        yield prefix, root, path.relative_to(root).as_posix()

    def find(self, path, find_all=False, **kwargs):
        found = []
        for prefix, root, name in self._files():
            if f"{prefix}/{name}" == path:
                found.append(str(root / name))
                if not find_all:
                    return found[0]
        return found if find_all else []

    def list(self, ignore_patterns):
        for prefix, root, name in self._files():
            storage = FileSystemStorage(location=root)
            storage.prefix = prefix
            yield name, storage
