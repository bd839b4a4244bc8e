/* cmd/prep.c: `hipid prep`: options -> PrepSetConfig -> prepset_build (the
 * work, prepset.h) -> the summary. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hipid/base/outclaim.h"
#include "hipid/cmd/cmd.h"
#include "hipid/data/dupdesc.h"
#include "hipid/data/prepset.h"

static void prep_usage(FILE *f) {
    PrepConfig c = prep_config_default(128);
    fprintf(f,
        "usage: hipid prep SRC -o OUT.h5 [options]\n"
        "  SRC                  a folder with one subfolder per class (class index = sorted\n"
        "                       folder name), or a manifest CSV (path,label[,patient_id,...];\n"
        "                       header row required; paths relative to the CSV's folder)\n"
        "  -o, --output PATH    the data set to write (HDF5, see docs/data.md)     (required)\n"
        "  --size S             output images are S x S                          [%d]\n"
        "  --steps LIST         comma list of background, otsu, largest, invert, crop,\n"
        "                       run in that order, or none                       [%s]\n"
        "  --manifest CSV       take the image list from CSV; its paths are relative to SRC\n"
        "  --min-size PX        skip images smaller than this on either side       [%d]\n"
        "  --min-mask F         skip images whose kept mask covers less than F     [%g]\n"
        "  --bg-radius F        background median window half-width, as a fraction\n"
        "                       of the content's longer side                       [%g]\n"
        "  --binary             otsu writes 255 inside the mask instead of the grey values\n"
        "  --dup-threshold D    copies of one radiograph (rotated, flipped, cropped, re-exposed,\n"
        "                       re-encoded): at least D verified feature matches to the\n"
        "                       group's medoid (and aligned pixels that agree); -1 turns\n"
        "                       the duplicate search off   [%d]\n"
        "  --preview PNG        contact sheet: sampled images, one row each:\n"
        "                       original | after each step | final\n"
        "  --preview-n N        images in the contact sheet                        [8]\n"
        "  --strict             any skipped file is an error (exit 1, nothing written)\n"
        "  -q, --quiet          list only the copy groups with conflicting labels\n"
        "  --progress S         a progress line on stdout every S seconds (0: none)  [%g]\n"
        "DICOM files (.dcm, or any file with the DICM preamble) are decoded with DCMTK:\n"
        "first frame, Modality LUT, VOI step, MONOCHROME1 inverted, then 0..255.\n"
        "  --window V           VOI step: file (the file's VOI LUT or first window, else\n"
        "                       auto), auto (percentiles %g..%g of the modality values\n"
        "                       to 0..255), or C,W (a linear window)              [file]\n"
        "  --patient-from F     patient ids for grouped CV: patient (PatientID), study\n"
        "                       (StudyInstanceUID) or none; a manifest's patient_id wins [patient]\n"
        "  --keep-ids           store DICOM ids as they are (default: HMAC-SHA256 with a salt)\n"
        "  --id-salt-file PATH  the HMAC key (at least 16 bytes; keep it secret): the same\n"
        "                       patient gets the same id across preps (default: a random\n"
        "                       salt per run, so ids of two runs cannot be linked)\n"
        "Patient names and every other header field are never stored.\n"
        "Images are processed at a working size whose longer side is at most max(2S, 256).\n"
        "Skipped files (unreadable, truncated, too small, near-empty mask, missing manifest\n"
        "rows) are listed on stderr as 'skip <path>: <reason>' and kept in the output's\n"
        "'skipped' dataset. OUT is never one of the inputs, a device, a FIFO or a folder, and\n"
        "is locked while written (OUT.lock beside it: a second prep to OUT exits 1 naming the\n"
        "holder). Exit status: 0 ok, 1 failure, 2 usage.\n",
        c.size, PREP_DEFAULT_STEPS, c.min_size, c.min_mask, c.bg_radius, (int)DUP_DEFAULT_THRESHOLD,
        PREPSET_PROGRESS_SECONDS, DICOM_AUTO_LO, DICOM_AUTO_HI);
}

/* --window file|auto|C,W into w; 0 or the usage exit status. */
static int parse_window(DicomWindow *w, const char *v) {
    double c = 0, width = 0;
    int end = -1;
    if (strcmp(v, "file") == 0) {
        w->mode = DICOM_VOI_FILE;
    } else if (strcmp(v, "auto") == 0) {
        w->mode = DICOM_VOI_AUTO;
    } else if (sscanf(v, "%lf,%lf%n", &c, &width, &end) == 2 && end == (int)strlen(v) && width >= 1 && isfinite(c) &&
               isfinite(width)) {
        *w = (DicomWindow){.mode = DICOM_VOI_FIXED, .center = c, .width = width};
    } else {
        fprintf(stderr, "hipid prep: --window: expected file, auto or CENTER,WIDTH with WIDTH >= 1, found '%s'\n", v);
        return HIPID_EXIT_USAGE;
    }
    return 0;
}

static int parse_patient_from(int *from, const char *v) {
    static const char *names[] = {"patient", "study", "none"};
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) {
            *from = i; /* PREPSET_IDS_* in this order */
            return 0;
        }
    fprintf(stderr, "hipid prep: --patient-from: expected patient, study or none, found '%s'\n", v);
    return HIPID_EXIT_USAGE;
}

/* Options into c; returns 0 to go on, else the exit status (help, usage). */
static int parse_options(PrepSetConfig *c, int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},     {"size", required_argument, 0, 'S'},
        {"steps", required_argument, 0, 's'},      {"manifest", required_argument, 0, 'm'},
        {"min-size", required_argument, 0, 'z'},   {"min-mask", required_argument, 0, 'k'},
        {"bg-radius", required_argument, 0, 'r'},  {"binary", no_argument, 0, 'B'},
        {"dup-threshold", required_argument, 0, 'd'}, {"preview", required_argument, 0, 'p'},
        {"preview-n", required_argument, 0, 'n'},  {"strict", no_argument, 0, 'X'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {"window", required_argument, 0, 'W'},     {"patient-from", required_argument, 0, 'P'},
        {"keep-ids", no_argument, 0, 'K'},         {"id-salt-file", required_argument, 0, 'F'},
        {"progress", required_argument, 0, 'g'},   {0, 0, 0, 0}};
    PrepConfig *p = &c->prep;
    const char *steps = PREP_DEFAULT_STEPS;
    ErrBuf e = {{0}};
    double v;
    int o, size = 128;
    optind = 1;
    while ((o = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 'o': c->out = optarg; break;
        case 'm': c->manifest = optarg; break;
        case 'p': c->preview = optarg; break;
        case 's': steps = optarg; break;
        case 'B': p->binary = 1; break;
        case 'X': c->strict = 1; break;
        case 'q': c->quiet = 1; break;
        case 'K': c->keep_ids = 1; break;
        case 'F': c->id_salt_file = optarg; break;
        case 'W': bad = parse_window(&p->window, optarg); break;
        case 'P': bad = parse_patient_from(&c->patient_from, optarg); break;
        case 'S': bad = cli_num("prep", "size", optarg, 8, 4096, 1, &v); size = (int)v; break;
        case 'z': bad = cli_num("prep", "min-size", optarg, 1, 1e6, 1, &v); p->min_size = (int)v; break;
        case 'k': bad = cli_num("prep", "min-mask", optarg, 0, 1, 0, &v); p->min_mask = v; break;
        case 'r': bad = cli_num("prep", "bg-radius", optarg, 0.01, 1, 0, &v); p->bg_radius = v; break;
        case 'd': bad = cli_num("prep", "dup-threshold", optarg, -1, 2 * DUP_MAX_KP, 1, &v); c->dup_threshold = (int)v; break;
        case 'n': bad = cli_num("prep", "preview-n", optarg, 1, 64, 1, &v); c->preview_n = (int)v; break;
        case 'g': bad = cli_num("prep", "progress", optarg, 0, 1e6, 0, &v); c->progress = v; break;
        case 'h': prep_usage(stdout); return -1;
        default: prep_usage(stderr); return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "hipid prep: expected one SRC (a class folder tree or a manifest CSV), found %d "
                        "(see hipid prep --help)\n", argc - optind);
        return HIPID_EXIT_USAGE;
    }
    if (!c->out) {
        fprintf(stderr, "hipid prep: -o/--output is required (see hipid prep --help)\n");
        return HIPID_EXIT_USAGE;
    }
    c->src = argv[optind];
    /* the size sets the working size too: the other limits go onto its defaults */
    PrepConfig base = prep_config_default(size);
    base.min_size = p->min_size;
    base.min_mask = p->min_mask;
    base.bg_radius = p->bg_radius;
    base.binary = p->binary;
    base.window = p->window;
    *p = base;
    if (prep_parse_steps(&p->steps, steps, &e) != HIPID_OK) {
        fprintf(stderr, "hipid prep: %s\n", e.msg);
        return HIPID_EXIT_USAGE;
    }
    return 0;
}

/* The data set and the preview may be written (neither replaces a device,
 * a FIFO, a folder or one of the inputs) and the data set is ours until we
 * are done (an exclusive lock on OUT.lock): 0, or the exit status, printed. */
static int claim_outputs(FsafeLock *lk, const PrepSetConfig *c) {
    const char *const in[] = {c->src, c->manifest, c->id_salt_file, c->out};
    char stale[256];
    ErrBuf e = {{0}};
    if (c->preview && fsafe_output(c->preview, "preview", in, 4, &e) != HIPID_OK) goto error;
    if (outclaim_take(lk, c->out, "data set", in, 3, stale, &e) != HIPID_OK) goto error;
    if (stale[0]) fprintf(stderr, "hipid prep: note: took over the lock of %s from %s (no longer running)\n", c->out, stale);
    return 0;
error:
    fprintf(stderr, "hipid prep: %s\n", e.msg);
    return HIPID_EXIT_FAIL;
}

int cmd_prep(int argc, char **argv) {
    PrepSetConfig c = prepset_config_default(128);
    int status = parse_options(&c, argc, argv);
    if (status) return status < 0 ? 0 : status;
    ErrBuf e = {{0}};
    PrepSetStats s = {0};
    FsafeLock lk = {.fd = -1};
    if ((status = claim_outputs(&lk, &c)) != 0) return status;
    if (prepset_start_vips(argv[0], &e) != HIPID_OK) {
        fprintf(stderr, "hipid prep: %s\n", e.msg);
        fsafe_unlock(&lk);
        return HIPID_EXIT_FAIL;
    }
    if (prepset_build(&s, &c, &e) == HIPID_OK) {
        prepset_print_summary(stdout, &c, &s);
        status = 0;
    } else {
        fprintf(stderr, "hipid prep: %s\n", e.msg);
        status = HIPID_EXIT_FAIL;
    }
    prepset_stats_free(&s);
    prepset_stop_vips();
    fsafe_unlock(&lk);
    return status;
}
