# Sourced by scripts/sanitize.sh and scripts/sanitize_cluster.sh: exports the options of sanitizer $1
# for every process started from here (spawned workers included) and sets `report` to the word its
# reports start with. halt_on_error: the first report fails the run.
sanitizer_options() {
    local supp
    supp=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tsan.supp
    case $1 in
      # Leak checking is off: the Swift runtime's metadata caches and XCTest's globals read as leaks at exit.
      address) export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0"; report="AddressSanitizer" ;;
      # Suppressions for third-party code only (each line says why).
      thread) export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp"; report="ThreadSanitizer" ;;
      *) echo "the sanitizer must be address or thread, got $1" >&2; exit 64 ;;
    esac
}
