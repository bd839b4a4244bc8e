/* cmd/audit.c: `hipid audit DATA.h5`: the leakage audit of a prepared data
 * set made visible (audit.h): near-duplicate groups, their sizes, label
 * conflicts, and a contact sheet of the largest groups and the conflicts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "hipid/cmd/cmd.h"
#include "hipid/data/audit.h"
#include "hipid/data/dataset.h"

static void audit_usage(FILE *f) {
    fprintf(f, "usage: hipid audit DATA.h5 [--sheet PNG] [--groups N]\n"
               "  --sheet PNG   contact sheet of the groups: conflicts first, then the largest\n"
               "                                                       [DATA-audit.png beside DATA.h5]\n"
               "  --no-sheet    print only\n"
               "  --groups N    groups listed and drawn                [20]\n"
               "Lists the near-duplicate groups that hipid prep found (copies of one radiograph:\n"
               "flipped, rotated, cropped, re-exposed or re-encoded) and the label conflicts (a group\n"
               "whose copies carry different labels). Splits keep a group on one side; conflicts\n"
               "are listed for you to decide. Exit status: 0 ok, 1 failure, 2 usage.\n");
}

/* DATA.h5 -> DATA-audit.png */
static void default_sheet(char *buf, size_t cap, const char *data) {
    size_t n = strlen(data);
    if (n > 3 && strcmp(data + n - 3, ".h5") == 0) n -= 3;
    snprintf(buf, cap, "%.*s-audit.png", (int)n, data);
}

static int run_audit(const char *data, const char *sheet, int max_groups) {
    Dataset d = {0};
    Audit a = {0};
    ErrBuf e = {{0}};
    int status = HIPID_EXIT_FAIL;
    if (dataset_load(&d, data, &e) != HIPID_OK || audit_build(&a, &d, data, &e) != HIPID_OK) {
        fprintf(stderr, "hipid audit: %s\n", e.msg);
        goto out;
    }
    printf("%s: ", data);
    audit_print(stdout, &a, &d, max_groups);
    if (sheet && a.n_groups == 0) printf("no near-duplicate group: no contact sheet written\n");
    else if (sheet) {
        if (audit_sheet(sheet, &a, &d, max_groups, &e) != HIPID_OK) {
            fprintf(stderr, "hipid audit: %s\n", e.msg);
            goto out;
        }
        printf("contact sheet: %s\n", sheet);
    }
    status = 0;
out:
    audit_free(&a);
    dataset_free(&d);
    return status;
}

int cmd_audit(int argc, char **argv) {
    static const struct option opts[] = {{"sheet", required_argument, 0, 's'},
                                         {"no-sheet", no_argument, 0, 'n'},
                                         {"groups", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *sheet_opt = NULL;
    int no_sheet = 0, c;
    double v = 20;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': sheet_opt = optarg; break;
        case 'n': no_sheet = 1; break;
        case 'g':
            if (cli_num("audit", "groups", optarg, 1, 10000, 1, &v) != HIPID_OK) return HIPID_EXIT_USAGE;
            break;
        case 'h': audit_usage(stdout); return 0;
        default: fprintf(stderr, "hipid audit: unknown option or missing value (see hipid audit --help)\n"); return HIPID_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "hipid audit: expects exactly one data set (see hipid audit --help)\n");
        return HIPID_EXIT_USAGE;
    }
    char sheet[4200];
    if (sheet_opt) snprintf(sheet, sizeof sheet, "%s", sheet_opt);
    else default_sheet(sheet, sizeof sheet, argv[optind]);
    if (VIPS_INIT(argv[0])) {
        fprintf(stderr, "hipid audit: cannot start libvips\n");
        return HIPID_EXIT_FAIL;
    }
    int status = run_audit(argv[optind], no_sheet ? NULL : sheet, (int)v);
    vips_shutdown();
    return status;
}
