#!/bin/bash
# One boot of the Raspberry Pi scenario, inside QEMU's raspi4b on Debian's
# Raspberry Pi layout (raspi-firmware; /boot/firmware the FAT partition the
# firmware reads). Results go to the port ezedge.results names, one line
# each: PASS/FAIL boot<N> <check> [detail].
results=$(sed -n 's/.*ezedge\.results=\([^ ]*\).*/\1/p' /proc/cmdline)
exec 3>"${results:-/dev/ttyAMA0}"
state=/var/lib/e2e
mkdir -p "$state"
n=$(( $(cat "$state/boot" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$state/boot"
E=/usr/local/sbin/ezedge-host
P=/etc/e2e/pi-profile.yaml
FW=/boot/firmware
EXTRA=/etc/default/raspi-extra-cmdline
ZSWAP="zswap.enabled=1 zswap.compressor=lz4"

pass() { echo "PASS boot$n $1" >&3; }
fail() { echo "FAIL boot$n $1 ${2:-}" >&3; }
# expect NAME GOT WANT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# expect_in NAME HAYSTACK NEEDLE
expect_in() { if grep -qF -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "'$3' not in '$(head -c 300 <<<"$2")'"; fi; }
# expect_not_in NAME HAYSTACK NEEDLE
expect_not_in() { if grep -qF -- "$3" <<<"$2"; then fail "$1" "'$3' in '$(head -c 300 <<<"$2")'"; else pass "$1"; fi; }
sysv() { tr -s '\t ' '  ' < "/proc/sys/${1//.//}" | sed 's/ *$//'; }
gov() { cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# The file as bytes, or "(absent)": raspi-extra-cmdline is not shipped.
bytes_of() { if [ -e "$1" ]; then sha256sum < "$1"; else echo "(absent)"; fi; }

snapshot() {
	echo "swappiness=$(sysv vm.swappiness)"
	echo "zswap=$(cat /sys/module/zswap/parameters/enabled)"
	echo "zswap_compressor=$(cat /sys/module/zswap/parameters/compressor)"
	echo "governor=$(gov)"
	echo "cmdline_zswap=$(grep -o 'zswap\.[^ ]*' /proc/cmdline | tr '\n' ' ')"
	echo "cmdline.txt=$(bytes_of $FW/cmdline.txt)"
	echo "raspi-extra-cmdline=$(bytes_of $EXTRA)"
	echo "tmp=$(findmnt -n -o FSTYPE /tmp)"
	echo "root_noatime=$(findmnt -n -o OPTIONS / | tr ',' '\n' | grep -cx noatime)"
	echo "fstab=$(bytes_of /etc/fstab)"
	for f in /etc/sysctl.d/90-ezedge-host.conf /etc/tmpfiles.d/90-ezedge-host.conf /etc/systemd/journald.conf.d/90-ezedge-host.conf \
		/etc/systemd/system/tmp.mount /etc/systemd/system/tmp.mount.d/90-ezedge-host.conf /etc/systemd/system/local-fs.target.wants/tmp.mount; do
		[ -e "$f" ] && echo "file=$f"
	done
}

# plan_changes: the plan's Changes section (what apply would do).
plan_changes() { $E plan --profile $P 2>&1 | sed -n '/^Changes/,/^$/p'; }

case $n in
1)
	snapshot > "$state/defaults"
	sed 's/^/  default: /' "$state/defaults" >&3
	cp $FW/cmdline.txt "$state/cmdline.pristine"
	echo "  cmdline.txt: $(cat $FW/cmdline.txt)" >&3
	echo "  /proc/cmdline: $(cat /proc/cmdline)" >&3
	expect dt-model "$(tr -d '\0' < /proc/device-tree/model)" "Raspberry Pi 4 Model B"
	expect firmware-mounted "$(findmnt -n -o FSTYPE $FW)" vfat
	# The board comes from the device tree, not from --platform.
	facts=$($E facts --output json 2>&1)
	flat=$(tr -d ' \n' <<<"$facts")
	expect_in facts-platform "$flat" '"platform":"rpi4"'
	expect_in facts-board "$flat" '"board":"RaspberryPi4ModelB"'
	expect_in facts-board-from-dt "$facts" 'from /proc/device-tree/model'
	expect_not_in facts-not-forced "$facts" 'from --platform'
	expect_in facts-root-device "$flat" '"root_device":"mmcblk0p2"'
	expect_in facts-sd-card "$(grep -o '{"name":"mmcblk0"[^}]*}' <<<"$flat")" '"sd_card":true,"rotational":false,"removable":false,"root":true'
	boot=$(grep -o '"boot":{[^}]*}' <<<"$flat")
	expect_in facts-loader "$boot" '"loader":"rpi-firmware"'
	expect_in facts-cmdline-file "$boot" '"cmdline_file":"/boot/firmware/cmdline.txt"'
	expect_in facts-cmdline-input "$boot" '"cmdline_input":"/etc/default/raspi-extra-cmdline"'
	expect_in facts-cpufreq "$flat" '"cpufreq":true'
	plan=$($E plan --profile $P 2>&1)
	echo "$plan" > "$state/plan1"
	plan_changes > "$state/changes1"
	expect_in plan-zswap-input "$plan" "file $EXTRA"
	expect_in plan-governor "$plan" "cpu-governor"
	expect_in plan-fstrim-skipped "$(tr -s ' ' <<<"$plan")" "fstrim root is on an SD card (mmcblk0)"
	expect_in plan-wifi-skipped "$(tr -s ' ' <<<"$plan")" "wifi no WLAN radio (no rfkill device of type wlan)"
	# Fewer writes to the SD card: on by default for an SD-card root.
	# (the plan pads the resource column before its [task, layer])
	expect_in plan-root-noatime "$(grep -E 'file /etc/fstab +\[root-noatime' <<<"$plan")" "root-noatime"
	expect_in plan-journald "$(grep -E 'file /etc/systemd/journald.conf.d/90-ezedge-host.conf +\[journald' <<<"$plan")" "journald"
	expect_in plan-tmp-tmpfs "$(grep -E 'file /etc/systemd/system/tmp.mount.d/90-ezedge-host.conf +\[tmp-tmpfs' <<<"$plan")" "tmp-tmpfs"
	echo "  fstab: $(grep -v '^#' /etc/fstab | tr '\n' '|')" >&3
	out=$($E apply --yes --profile $P 2>&1); rc=$?
	echo "$out" > "$state/apply1"
	expect apply-exit "$rc" 0
	[ "$rc" = 0 ] || sed 's/^/  apply: /' "$state/apply1" >&3
	expect_in extra-cmdline "$(cat $EXTRA 2>&1)" "$ZSWAP"
	# ezedge-host ran raspi-firmware's hook on the live root.
	expect_in cmdline.txt-after-apply "$(cat $FW/cmdline.txt)" "$ZSWAP"
	expect swappiness "$(sysv vm.swappiness)" 10
	expect zswap-runtime "$(cat /sys/module/zswap/parameters/enabled)" Y
	expect zswap-compressor-runtime "$(cat /sys/module/zswap/parameters/compressor)" lz4
	expect governor "$(gov)" performance
	# What a kernel or initramfs update does later: the hook runs again
	# from /etc/initramfs/post-update.d and regenerates cmdline.txt.
	t=$(date +%s)
	out=$(update-initramfs -u 2>&1); rc=$?
	expect update-initramfs-exit "$rc" 0
	[ "$rc" = 0 ] || sed 's/^/  update-initramfs: /' <<<"$out" >&3
	echo "  update-initramfs -u took $(( $(date +%s) - t )) s" >&3
	expect_in cmdline.txt-after-update-initramfs "$(cat $FW/cmdline.txt)" "$ZSWAP"
	$E plan --profile $P --detailed-exitcode > "$state/plan1b" 2>&1
	rc=$?
	expect plan-after-apply-exit "$rc" 0
	[ "$rc" = 0 ] || sed -n '/^Changes/,/^$/s/^/  plan: /p' "$state/plan1b" >&3
	expect_in reboot-pending "$(cat "$state/plan1b")" "Reboot pending"
	sync
	;;
2)
	echo "  /proc/cmdline: $(cat /proc/cmdline)" >&3
	expect_in cmdline "$(cat /proc/cmdline)" "$ZSWAP"
	expect zswap "$(cat /sys/module/zswap/parameters/enabled)" Y
	expect zswap-compressor "$(cat /sys/module/zswap/parameters/compressor)" lz4
	expect swappiness "$(sysv vm.swappiness)" 10
	expect governor "$(gov)" performance
	expect tmp-tmpfs "$(findmnt -n -o FSTYPE /tmp)" tmpfs
	expect root-noatime "$(findmnt -n -o OPTIONS / | tr ',' '\n' | grep -x noatime)" noatime
	expect_in journald-volatile "$(systemd-analyze cat-config systemd/journald.conf 2>&1)" "Storage=volatile"
	expect journal-in-ram "$(journalctl --header 2>/dev/null | grep -m1 -o '/run/log/journal')" /run/log/journal
	$E plan --profile $P --detailed-exitcode > "$state/plan2" 2>&1
	rc=$?
	expect plan-exit "$rc" 0
	[ "$rc" = 0 ] || sed -n '/^Changes/,/^$/s/^/  plan: /p' "$state/plan2" >&3
	out=$($E rollback --yes 2>&1); rc=$?
	expect rollback-exit "$rc" 0
	[ "$rc" = 0 ] || sed 's/^/  rollback: /' <<<"$out" >&3
	expect_not_in cmdline.txt-after-rollback "$(cat $FW/cmdline.txt)" "zswap"
	sync
	;;
3)
	echo "  /proc/cmdline: $(cat /proc/cmdline)" >&3
	expect_not_in cmdline-no-zswap "$(cat /proc/cmdline)" "zswap"
	if cmp -s "$state/cmdline.pristine" $FW/cmdline.txt; then
		pass cmdline.txt-pristine
	else
		fail cmdline.txt-pristine "now '$(cat $FW/cmdline.txt)', was '$(cat "$state/cmdline.pristine")'"
	fi
	snapshot > "$state/after"
	if diff "$state/defaults" "$state/after" > "$state/diff"; then
		pass back-to-defaults
	else
		fail back-to-defaults "$(tr '\n' ' ' < "$state/diff")"
	fi
	plan_changes > "$state/changes3"
	if diff "$state/changes1" "$state/changes3" > "$state/plandiff"; then
		pass plan-pending-again
	else
		fail plan-pending-again "$(tr '\n' ' ' < "$state/plandiff")"
	fi
	$E plan --profile $P --detailed-exitcode > /dev/null 2>&1
	expect plan-detailed-exit "$?" 2
	expect history "$($E history | tail -1 | awk '{print $NF, $(NF-1)}')" "back rolled"
	;;
esac
echo "END boot$n" >&3
exit 0
