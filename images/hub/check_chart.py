"""Stop the hub image's build if its base is not the chart chart-requirements.txt describes.

Run inside the image during the build: ``python3 check_chart.py CHART_VERSION FILE``. Every
package the file pins at a version must be installed at that version (packages the image
lacks are skipped: the file also lists build-only ones), and the file's ``# chart:`` line must
name CHART_VERSION.
"""

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def main(chart: str, path: str) -> int:
    text = Path(path).read_text()
    if f"# chart: {chart}\n" not in text:
        print(f"{path} does not describe zero-to-jupyterhub {chart}", file=sys.stderr)
        return 1
    wrong = []
    for line in text.splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#", 1)[0].strip())
        if not match:
            continue
        try:
            found = version(match.group(1))
        except PackageNotFoundError:
            continue
        if found != match.group(2):
            wrong.append(f"{match.group(1)} {found} (file: {match.group(2)})")
    if wrong:
        print(f"the image differs from {path}: " + ", ".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
