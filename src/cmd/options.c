/* cmd/options.c: option-value parsing shared by the commands (cmd.h). */
#include <math.h>
#include <stdlib.h>

#include "hipid/cmd/cmd.h"

int cmd_parse_positive(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end == s || *end || !(*v > 0.0) || !isfinite(*v);
}
