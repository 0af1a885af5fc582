#!/usr/bin/env bash
# Build microsip-provision for Windows on Debian 12 and run its whole test suite under Wine,
# including the oracle tests that ask the real Win32 profile API (tests/integration/oracle.rs).
#
#   bash ci/windows-test.sh                 # everything (CI runs this from .ci/run)
#   bash ci/windows-test.sh -- oracle       # extra arguments go to `cargo test`
#
# Recipe and pitfalls: shared/docs/windows-build.md. In short: Debian's rustc-web/cargo-web 1.96
# with rust-web-src 1.96 and -Zbuild-std (there is no prebuilt Windows std for that compiler),
# mingw-w64 as linker, Wine 8 as test runner, and a stand-in bcryptprimitives.dll because Wine 8
# lacks the DLL that every Rust >= 1.78 .exe imports (without it: exit code 53, no output).
#
# Needs: Debian 12 (bookworm), root or sudo for the one-time package install, network to Debian
# and crates.io. Writes only below target/: target/debian-windows (cargo) and target/wine-prefix.
# Exit status: 0 only when every step and every test passed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd -P)

PACKAGES=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64-posix wine wine64)
TARGET=x86_64-pc-windows-gnu
BUILD_STD=("-Zbuild-std=std,panic_abort" --target "$TARGET")
CARGO=/usr/bin/cargo # Debian's cargo-web; rustup's cargo (another release) is first in PATH

T0=$SECONDS
STEP_START=$SECONDS
STEP=""
TIMINGS=()

step() {
    if [[ -n $STEP ]]; then
        TIMINGS+=("$(printf '%5ds  %s' $((SECONDS - STEP_START)) "$STEP")")
    fi
    STEP=$1
    STEP_START=$SECONDS
    printf '\n==== windows-test: %s ====\n' "$STEP"
}

die() {
    printf 'windows-test: error: %s\n' "$*" >&2
    exit 1
}

wine_running=0
summary=""
finish() {
    local rc=$?
    set +e
    if [[ $wine_running == 1 ]]; then
        # Wine keeps wineserver alive a few seconds after the last process; stop it so that
        # nothing of ours outlives the script.
        wineserver -k >/dev/null 2>&1
        wineserver -w >/dev/null 2>&1
    fi
    if [[ -n $STEP ]]; then
        TIMINGS+=("$(printf '%5ds  %s' $((SECONDS - STEP_START)) "$STEP")")
    fi
    printf '\n==== windows-test: timings ====\n'
    printf '%s\n' "${TIMINGS[@]}"
    printf '%5ds  total\n' $((SECONDS - T0))
    if [[ -n $summary ]]; then
        printf '\n%s\n' "$summary" # last line: the test runner's count, for humans and CI
    fi
    if [[ $rc != 0 ]]; then
        printf 'windows-test: FAILED (exit %s) during: %s\n' "$rc" "$STEP" >&2
    fi
    exit "$rc"
}
trap finish EXIT

# ---------------------------------------------------------------------------------------------
step "Debian packages"
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    SUDO=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
        SUDO=(sudo)
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
else
    echo "all present: ${PACKAGES[*]}"
fi
for tool in /usr/bin/cargo /usr/bin/rustc /usr/bin/rustdoc x86_64-w64-mingw32-gcc wine wineboot wineserver; do
    command -v "$tool" >/dev/null || die "$tool not found after the install"
done

# ---------------------------------------------------------------------------------------------
step "toolchain versions"
upstream() { sed -e 's/^[0-9]*://' -e 's/[+~-].*$//'; } # 1.96.0+dfsg1-1~deb12u2 -> 1.96.0
rustc_ver=$(/usr/bin/rustc --version | awk '{print $2}')
cargo_ver=$(/usr/bin/cargo --version | awk '{print $2}')
src_ver=$(dpkg-query -W -f='${Version}' rust-web-src | upstream)
sysroot=$(/usr/bin/rustc --print sysroot)
library="$sysroot/lib/rustlib/src/rust/library"
[[ -f $library/Cargo.lock ]] || die "$library/Cargo.lock missing: rust-web-src is not where rustc looks"
src_dir=$(readlink -f "$sysroot/lib/rustlib/src/rust")
printf 'rustc      %s (/usr/bin/rustc)\ncargo      %s (/usr/bin/cargo)\nrust-src   %s (%s)\n' \
    "$rustc_ver" "$cargo_ver" "$src_ver" "$src_dir"
echo "mingw      $(x86_64-w64-mingw32-gcc -dumpversion)"
echo "wine       $(WINEDEBUG=-all wine --version 2>/dev/null)"
[[ $rustc_ver == "$src_ver" ]] ||
    die "rustc $rustc_ver and rust-web-src $src_ver differ: build-std needs the same release"
[[ $src_dir == */rustc-"$rustc_ver" ]] ||
    die "std source $src_dir is not the source of rustc $rustc_ver"
[[ $cargo_ver == "$rustc_ver" ]] || die "cargo $cargo_ver and rustc $rustc_ver differ"

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export RUSTC_BOOTSTRAP=1 # -Z flags on a stable toolchain
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export CARGO_TARGET_DIR="$ROOT/target/debian-windows" # apart from rustup's target/
export WINEPREFIX="$ROOT/target/wine-prefix"
export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export LC_ALL=C.UTF-8 # UTF-8 argv for Wine, and Wine's ANSI code page becomes 1252
unset RUSTFLAGS RUSTC_WRAPPER CARGO_BUILD_TARGET 2>/dev/null || true
ORACLE_DIR="$CARGO_TARGET_DIR/oracle"
mkdir -p "$ORACLE_DIR"

# ---------------------------------------------------------------------------------------------
step "Wine prefix"
wine_running=1
if [[ -f $WINEPREFIX/system.reg ]]; then
    echo "reusing $WINEPREFIX"
else
    echo "creating $WINEPREFIX (wineboot --init, once)"
    mkdir -p "$WINEPREFIX"
    wineboot --init </dev/null >/dev/null 2>&1 || die "wineboot --init failed"
    wineserver -w
fi
SYSTEM32="$WINEPREFIX/drive_c/windows/system32"
[[ -d $SYSTEM32 ]] || die "$SYSTEM32 missing: the Wine prefix is broken; delete $WINEPREFIX"

# Wine >= 9 has bcryptprimitives.dll and puts its stub into system32 itself; Wine 8 does not.
MARKER="$WINEPREFIX/.bcryptprimitives-standin"
if [[ -f $SYSTEM32/bcryptprimitives.dll && ! -f $MARKER ]]; then
    echo "Wine provides bcryptprimitives.dll: no stand-in needed"
else
    dll="$ORACLE_DIR/bcryptprimitives.dll"
    if [[ ! -f $dll || ci/bcryptprimitives.c -nt $dll ]]; then
        x86_64-w64-mingw32-gcc -O2 -Wall -shared -s -o "$dll" ci/bcryptprimitives.c -lbcrypt
    fi
    if ! cmp -s "$dll" "$SYSTEM32/bcryptprimitives.dll"; then
        cp "$dll" "$SYSTEM32/bcryptprimitives.dll"
        echo "installed stand-in bcryptprimitives.dll (Wine 8 lacks it)"
    else
        echo "stand-in bcryptprimitives.dll already installed"
    fi
    touch "$MARKER"
fi

# ---------------------------------------------------------------------------------------------
step "oracle harness (tests/oracle/inidump.c)"
ORACLE_EXE="$ORACLE_DIR/inidump.exe"
if [[ ! -f $ORACLE_EXE || tests/oracle/inidump.c -nt $ORACLE_EXE ]]; then
    x86_64-w64-mingw32-gcc -municode -O2 -Wall -Wextra -Werror -s \
        -o "$ORACLE_EXE" tests/oracle/inidump.c
    echo "built $ORACLE_EXE"
else
    echo "up to date: $ORACLE_EXE"
fi
# A Windows-visible path: drive Z: is the Unix root in a default prefix.
if [[ $(readlink "$WINEPREFIX/dosdevices/z:") == / ]]; then
    MICROSIP_ORACLE_EXE="Z:${ORACLE_EXE//\//\\}"
else
    MICROSIP_ORACLE_EXE=$(winepath -w "$ORACLE_EXE" 2>/dev/null)
fi
export MICROSIP_ORACLE_EXE
echo "MICROSIP_ORACLE_EXE=$MICROSIP_ORACLE_EXE"
# Smoke test: the harness runs, and Wine's ANSI code page is the 1252 the tests assume.
probe="$ORACLE_DIR/probe.ini"
printf '[Probe]\r\nName=M\xfcller\r\n' >"$probe"
answer=$(wine "$ORACLE_EXE" json "$probe" </dev/null) || die "inidump.exe failed: $answer"
grep -q '"acp":1252' <<<"$answer" || die "Wine's ANSI code page is not 1252: $answer"
grep -q '"name":"Name","value":"Müller"' <<<"$answer" || die "unexpected harness answer: $answer"
echo "harness OK (ACP 1252)"

# ---------------------------------------------------------------------------------------------
step "release build (.exe)"
"$CARGO" build --release "${BUILD_STD[@]}" </dev/null
EXE="$CARGO_TARGET_DIR/$TARGET/release/microsip-provision.exe"
[[ -f $EXE ]] || die "$EXE was not built"
ls -l "$EXE"
wine "$EXE" --help </dev/null >"$ORACLE_DIR/help.txt" ||
    die "the .exe does not run under Wine (exit $?; 53 = a DLL is missing)"
head -n 3 "$ORACLE_DIR/help.txt"

# ---------------------------------------------------------------------------------------------
step "cargo test under Wine"
log="$CARGO_TARGET_DIR/windows-test.log"
set +e
"$CARGO" test "${BUILD_STD[@]}" "$@" </dev/null 2>&1 | tee "$log"
test_rc=${PIPESTATUS[0]}
set -e
passed=0 failed=0 ignored=0
while read -r p f i; do
    passed=$((passed + p)) failed=$((failed + f)) ignored=$((ignored + i))
done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log")
summary=$(printf 'windows: %d passed, %d failed, %d skipped' "$passed" "$failed" "$ignored")
((test_rc == 0)) || die "cargo test failed under Wine (exit $test_rc)"
((passed > 0)) || die "cargo test ran no test under Wine"

step "stop Wine"
wineserver -k >/dev/null 2>&1 || true
wineserver -w >/dev/null 2>&1 || true
wine_running=0
