# ezedge-host. `make demo` shows the main job on a bundled host; `make test`
# is what CI runs.
GO      ?= go
BIN     := bin/ezedge-host
PKGS    := ./...
LDFLAGS := -s -w

.PHONY: build build-arm64 deb deb-deps deb-test builders-deps builders-test test test-deps test-ansible ansible-deps vet staticcheck fmt-check demo bench fuzz man roots roots-deps e2e e2e-deps realroots realroots-deps consumers consumers-deps clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ezedge-host

build-arm64:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)-arm64 ./cmd/ezedge-host

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# staticcheck is pinned in go.mod's tool block (go tool runs that version).
staticcheck:
	$(GO) tool staticcheck $(PKGS)

# The adversarial suites slow an apply down with strace (fault injection)
# and check their own tracer against it; under CI (CI set) they fail
# rather than skip without it, so a fresh machine installs it here. Debian's
# podman-compose (without podman: the test stands one in) reads the
# Compose override `resources` writes.
#
# systemd-zram-generator's generator reads the zram-generator drop-in the
# swap task writes; it is unpacked into .cache/tools, not installed, since
# Debian's package configures a zram swap device for the machine's next
# boot.
#
# The check's textfile is read by Debian's own prometheus-node-exporter in a
# test, and checked by promtool (Debian's prometheus package): both packages
# are unpacked into .cache/tools, not installed, so that no exporter or
# Prometheus service starts on the machine running the tests.
NODE_EXPORTER := .cache/tools/usr/bin/prometheus-node-exporter
PROMTOOL := .cache/tools/usr/bin/promtool
ZRAM_GENERATOR := .cache/tools/lib/systemd/system-generators/zram-generator
test-deps:
	@command -v strace >/dev/null && command -v podman-compose >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			strace podman-compose >/dev/null; }
	@[ -x $(ZRAM_GENERATOR) ] || [ -x .cache/tools/usr/lib/systemd/system-generators/zram-generator ] || [ -x /usr/lib/systemd/system-generators/zram-generator ] || { \
		mkdir -p .cache/tools/deb && cd .cache/tools/deb && \
		{ apt-get download -qq systemd-zram-generator 2>/dev/null || { apt-get update -qq && apt-get download -qq systemd-zram-generator; }; } && \
		dpkg-deb -x systemd-zram-generator_*.deb .. && rm -f systemd-zram-generator_*.deb; }
	@[ -x $(NODE_EXPORTER) ] || { \
		mkdir -p .cache/tools/deb && cd .cache/tools/deb && \
		{ apt-get download -qq prometheus-node-exporter 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus-node-exporter; }; } && \
		dpkg-deb -x prometheus-node-exporter_*.deb .. && rm -f prometheus-node-exporter_*.deb; }
	@[ -x $(PROMTOOL) ] || { \
		mkdir -p .cache/tools/deb && cd .cache/tools/deb && \
		{ apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; } && \
		dpkg-deb -x prometheus_*.deb .. && rm -f prometheus_*.deb; }

# -timeout: the adversarial suites (the hostile file types and truncated
# journals above all, 20 to 45 minutes on a busy 2-core machine) take longer
# than go test's default limit of 10 minutes.
test: test-deps fmt-check vet staticcheck
	$(GO) test -count=1 -timeout 40m $(PKGS)

# The Debian roots the slow suites share (test/debroot; docs/testing.md#roots):
# one per distribution and architecture, built once per machine with
# mmdebstrap into .cache/roots ($EZEDGE_ROOTS to keep them elsewhere), keyed
# by what goes into them. Each suite builds the roots it needs when they are
# missing (two at once take turns on a lock); CI builds them side by side in
# the background (make roots) while the other steps run. Root needed; the
# arm64 root is built through qemu-user and binfmt_misc, which roots-deps
# registers. bookworm-arm64 (make e2e ARCH=arm64 only) is built when that
# asks for it.
ROOTS := bookworm-amd64 bookworm-arm64-pi trixie-amd64
ROOTS_TOOLS := mmdebstrap arch-test eatmydata qemu-aarch64-static update-binfmts unshare
ROOTS_PKGS := mmdebstrap arch-test eatmydata qemu-user-static binfmt-support util-linux
roots-deps:
	@missing=; for t in $(ROOTS_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(ROOTS_PKGS) >/dev/null; fi
	@if [ "$$(uname -m)" != aarch64 ]; then \
		[ -e /proc/sys/fs/binfmt_misc/register ] || mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc; \
		update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true; fi

roots: roots-deps
	$(GO) run ./test/debroot/cmd/debroot build $(ROOTS)

# The Ansible collection (dist/ansible/, docs/ansible.md): unit tests, ansible-test
# sanity and ansible-playbook runs on fixture copies and on a bookworm
# chroot (root needed for the chroot: an overlay of the shared
# bookworm-amd64 root).
# Debian's ansible ships ansible-core 2.14, ansible-test and
# community.general (the chroot connection); the linters ansible-test's
# sanity tests run are Debian's too (dist/ansible/sanity.sh: no PyPI).
ANSIBLE_TOOLS := ansible-playbook ansible-test ansible-lint pytest-3 pylint yamllint
ANSIBLE_PKGS := ansible ansible-lint python3-pytest pylint yamllint python3-pycodestyle python3-voluptuous
ansible-deps: roots-deps
	@missing=; for t in $(ANSIBLE_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	/usr/bin/python3 -c 'import pycodestyle, voluptuous' 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(ANSIBLE_PKGS) >/dev/null; fi

# make deb first: the chroot test installs out/'s amd64 package with the role.
test-ansible: ansible-deps deb
	./dist/ansible/test.sh

# Man pages (section 8) for every command, from the cobra definitions,
# dated by the commit (SOURCE_DATE_EPOCH), not the day they are made.
man:
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)} $(GO) run ./cmd/ezedge-host gen-man man

demo: build
	./scripts/demo.sh $(BIN)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Every parser and editor's fuzz target, FUZZTIME each (CI: 10s). What a
# run finds is kept under <pkg>/testdata/fuzz and replayed by `make test`.
FUZZTIME ?= 1m
F := internal/formats
FUZZ_TARGETS := $(F)/cmdline:FuzzSetPiCmdline $(F)/cmdline:FuzzSetGrubDefaults $(F)/cmdline:FuzzSetGrubConfig $(F)/cmdline:FuzzEvalGrub $(F)/configtxt:FuzzEval \
	$(F)/hostconf:FuzzParseSysctlConf $(F)/hostconf:FuzzParseTmpfiles $(F)/hostconf:FuzzParseUdevRules $(F)/hostconf:FuzzRootNoatime \
	tasks:FuzzSetINI $(F)/storageconf:FuzzSet internal/resource:FuzzNormalize internal/profile:FuzzParse internal/profile:FuzzMerge rollback:FuzzJournal \
	internal/view/escape:FuzzText
# Go's fuzzer can report "context deadline exceeded" when its time runs out
# while a worker is busy (no input failed, nothing is written): that is not
# a finding. A real one writes <pkg>/testdata/fuzz/<target>/ and fails.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		before=$$(ls $$pkg/testdata/fuzz/$$fn 2>/dev/null | wc -l); \
		out=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg 2>&1); rc=$$?; \
		echo "$$out" | grep -v '^fuzz: elapsed' ; \
		after=$$(ls $$pkg/testdata/fuzz/$$fn 2>/dev/null | wc -l); \
		if [ $$rc -ne 0 ]; then \
			if [ "$$before" = "$$after" ] && echo "$$out" | grep -q 'context deadline exceeded'; then \
				echo "fuzz $$fn: time ran out mid-run (no failing input): not a finding"; \
			else exit 1; fi; \
		fi; \
	done

# End to end on a real kernel and systemd under qemu (root needed: the
# guest is made on an overlay of the shared root, bookworm-amd64, its image
# with mke2fs -d). ARCH=arm64 boots the arm64 build under
# qemu-system-aarch64 on its own root, bookworm-arm64. The Raspberry Pi
# scenario (always run) boots an SD card image of the shared Pi root,
# bookworm-arm64-pi (FAT made with dosfstools and mtools, partitioned with
# fdisk's sfdisk, device tree edited with device-tree-compiler's fdtput)
# under trixie's QEMU, which the shared trixie-amd64 root holds.
ARCH ?= amd64
E2E_TOOLS := mke2fs debugfs mcopy mkfs.vfat sfdisk fdtput
E2E_PKGS := e2fsprogs mtools dosfstools fdisk device-tree-compiler
ifeq ($(ARCH),arm64)
E2E_TOOLS += qemu-system-aarch64
E2E_PKGS += qemu-system-arm
else
E2E_TOOLS += qemu-system-x86_64
E2E_PKGS += qemu-system-x86
endif
e2e-deps: roots-deps
	@missing=; for t in $(E2E_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(E2E_PKGS) >/dev/null; fi

e2e: e2e-deps
	$(GO) run ./test/e2e -arch $(ARCH)

# ezedge-host on roots built from Debian's real packages, the shared ones
# (test/debroot): Debian's Raspberry Pi layout (bookworm-arm64-pi, the one
# make e2e boots) and trixie-amd64 (make consumers reads files in it).
# Root needed (chroot, overlays); the arm64 root's programs run through
# qemu-user and binfmt_misc.
realroots-deps: roots-deps

realroots: realroots-deps
	$(GO) run ./test/realroots

# Every kind of file ezedge-host writes, read by the program that reads it,
# from Debian's packages (docs/testing.md#consumers): ezedge-host applies the
# tasks to copies of the fixtures and to trixie and bookworm amd64 roots,
# and systemd-analyze, systemd-sysctl, systemd-tmpfiles, the fstab
# generator, findmnt, udevadm, podman info, Quadlet, podman-compose,
# grub-mkconfig and promtool read what it wrote, each also on a broken file
# that must fail. Root needed; the roots are the shared trixie-amd64 and
# bookworm-amd64 (test/debroot), seen through an overlay in a mount
# namespace, never changed.
consumers-deps: roots-deps

consumers: consumers-deps
	$(GO) run ./test/consumers

# Debian packages (amd64, arm64, armhf) into out/, built with nfpm as a
# library by dist/deb/, its own module so nfpm stays out of go.mod and out
# of `make test`. VERSION overrides the one from git describe.
deb:
	cd dist/deb && $(GO) run . -repo ../.. -out ../../out $(if $(VERSION),-version $(VERSION))

# The packages' tests: contents, Debian's lintian, the armhf build on the
# fixtures under qemu-user, and install/upgrade/remove/purge in a bookworm
# chroot (root needed; an overlay of the shared bookworm-amd64 root). Not
# part of `make test`: CI runs it as its own step.
DEB_TOOLS := lintian qemu-arm-static dpkg-deb systemctl
deb-deps: roots-deps
	@missing=; for t in $(DEB_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			lintian qemu-user-static systemd >/dev/null; fi

deb-test: deb-deps
	cd dist/deb && $(GO) test -count=1 -timeout 30m .

# The image-builder integrations (dist/images/: mmdebstrap hook, pi-gen
# stage, rpi-image-gen layer, sdm plugin, cloud-init user-data), each run
# in its builder's calling convention on a bookworm root (an overlay of
# the shared bookworm-amd64 root; cloud-init is unpacked, not installed,
# into .cache/tools for its schema check), and the mmdebstrap hook in a
# build of mmdebstrap's own. Root needed; its own module, so not part of
# `make test`. BUILDERS_SHORT=1 calls the mmdebstrap hook as mmdebstrap does
# instead of running mmdebstrap itself.
BUILDERS_TOOLS := shellcheck python3
builders-deps: roots-deps
	@missing=; for t in $(BUILDERS_TOOLS); do command -v $$t >/dev/null || missing=1; done; \
	python3 -c 'import yaml, jsonschema, jinja2' 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			shellcheck python3-yaml python3-jsonschema python3-jinja2 >/dev/null; fi

builders-test: builders-deps
	cd dist/images && $(GO) test -count=1 -timeout 30m $(if $(BUILDERS_SHORT),-short) .

clean:
	rm -rf bin e2e-out man out
