/* Preloaded into redis-server by scripts/coverage.sh only. Redis's fork
 * children (BGSAVE, BGREWRITEAOF) leave with _exit(), which skips the exit
 * handlers where an instrumented module writes its coverage profile. Redis's
 * own coverage builds (COVERAGE_TEST) make those children call exit() instead;
 * this does the same for an unmodified server. glibc's exit() reaches the
 * real _exit through an internal alias, not through this symbol. */
#include <stdlib.h>

void _exit(int status) {
    exit(status);
}
