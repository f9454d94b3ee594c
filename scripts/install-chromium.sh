#!/usr/bin/env bash
# Install Chromium from the distribution's packages (Debian/Ubuntu) when no Chromium or
# Chrome is on PATH, for the screenshot test (tests/test_screenshots.py) and
# `make screenshots`, which render the executed example notebooks in headless Chromium.
#
#   scripts/install-chromium.sh              install it, or fail saying why it cannot
#   scripts/install-chromium.sh --optional   install it where possible (root and apt-get),
#                                            else print why not and succeed: the screenshot
#                                            test then skips, naming this script
#
# Prints the browser's path on stdout when it is (or now is) installed.
set -euo pipefail

optional=0
[[ "${1:-}" == "--optional" ]] && optional=1

log() { echo "install-chromium: $*" >&2; }

find_browser() {
	local b
	for b in chromium chromium-browser google-chrome; do
		if command -v "$b" >/dev/null 2>&1; then
			command -v "$b"
			return 0
		fi
	done
	return 1
}

give_up() {
	log "$1"
	if [[ $optional == 1 ]]; then
		exit 0
	fi
	exit 1
}

if find_browser; then
	exit 0
fi
command -v apt-get >/dev/null 2>&1 || give_up "no apt-get here: install Chromium with the system's package manager"
sudo=()
if [[ "$(id -u)" != 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		give_up "installing Chromium needs root (apt-get install chromium)"
	fi
fi
log "installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or old on a fresh machine: refresh them once if the
# package is not known.
if ! apt-cache show chromium >/dev/null 2>&1; then
	"${sudo[@]}" apt-get update -qq >&2 || give_up "apt-get update failed"
fi
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2; then
	"${sudo[@]}" apt-get update -qq >&2 || true
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 ||
		give_up "apt-get install chromium failed"
fi
find_browser || give_up "chromium was installed but is not on PATH"
