#!/usr/bin/env bash
# mkrootfs.sh DIR [PROBE_BINARY]: a minimal busybox rootfs for test containers (see FIELD-NOTES.md).
# DIR/bin/busybox from busybox-static, a symlink per applet, proc dev sys tmp etc, and the probe as
# DIR/bin/probe when given. Idempotent: running it again on the same DIR changes nothing else.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: mkrootfs.sh DIR [PROBE_BINARY]" >&2
    exit 2
fi
dir=$1
probe=${2:-}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "mkrootfs.sh: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/proc" "$dir/dev" "$dir/sys" "$dir/tmp" "$dir/etc"
chmod 1777 "$dir/tmp"
cmp -s "$busybox" "$dir/bin/busybox" || cp -f "$busybox" "$dir/bin/busybox"
for applet in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$applet" ] || [ -L "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
if [ -n "$probe" ]; then
    cmp -s "$probe" "$dir/bin/probe" || cp -f "$probe" "$dir/bin/probe"
    chmod 755 "$dir/bin/probe"
fi
