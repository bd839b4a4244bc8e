/* test_prep_describe.c: prep_parse_describe is the inverse of prep_describe.
 *
 * - 2000 random configurations (every step subset, random sizes and
 *   fractions with up to 17 significant digits) survive describe -> parse ->
 *   describe unchanged, and every field that the string carries comes back
 *   bit for bit;
 * - the strings that data sets written before the parser existed carry
 *   (prep_describe with %g) still parse, to the configuration that made them;
 * - malformed strings fail with a message quoting the offending item: an
 *   unknown step, a synthetic data set's text, a changed order, a pad that
 *   does not follow from invert, a missing resize, other background
 *   constants, trailing garbage. */
#include <stdio.h>
#include <string.h>

#include "hipid/data/prep.h"
#include "testutil.h"

static void check_same(const PrepConfig *a, const PrepConfig *b, const char *text) {
    EXPECT(a->steps == b->steps, "steps %u vs %u for \"%s\"", a->steps, b->steps, text);
    EXPECT(a->size == b->size && a->work_max == b->work_max && a->min_size == b->min_size,
           "sizes differ for \"%s\"", text);
    if (a->steps & PREP_BACKGROUND)
        EXPECT(a->bg_radius == b->bg_radius, "bg_radius %.17g vs %.17g", a->bg_radius, b->bg_radius);
    if (a->steps & (PREP_OTSU | PREP_LARGEST))
        EXPECT(a->min_mask == b->min_mask, "min_mask %.17g vs %.17g", a->min_mask, b->min_mask);
    if (a->steps & PREP_OTSU) EXPECT(a->binary == b->binary, "binary %d vs %d", a->binary, b->binary);
    EXPECT(a->dicom_inputs == b->dicom_inputs, "dicom_inputs %d vs %d for \"%s\"", a->dicom_inputs,
           b->dicom_inputs, text);
    if (a->dicom_inputs) {
        EXPECT(a->window.mode == b->window.mode, "window mode %d vs %d for \"%s\"", a->window.mode,
               b->window.mode, text);
        if (a->window.mode == DICOM_VOI_FIXED)
            EXPECT(a->window.center == b->window.center && a->window.width == b->window.width,
                   "window %.17g,%.17g vs %.17g,%.17g", a->window.center, a->window.width, b->window.center,
                   b->window.width);
    }
}

static void expect_reject(const char *text, const char *needle) {
    PrepConfig c;
    ErrBuf e = {{0}};
    int rc = prep_parse_describe(&c, text, &e);
    EXPECT(rc == HIPID_ERR, "accepted \"%s\"", text);
    EXPECT(strstr(e.msg, needle) != NULL, "message for \"%s\" lacks '%s': %s", text, needle, e.msg);
}

int main(void) {
    Rng r = rng_stream(11, 0, 0, 0);
    char text[1024], again[1024];
    ErrBuf e = {{0}};
    int n_ok = 0;
    for (int t = 0; t < 2000; t++) {
        PrepConfig a = prep_config_default(8 + (int)rng_below(&r, 1017)), b;
        a.steps = (unsigned)rng_below(&r, 32); /* every subset of the five steps that prep allows */
        if ((a.steps & PREP_CROP) && !(a.steps & (PREP_OTSU | PREP_LARGEST))) a.steps |= PREP_LARGEST;
        a.min_size = 1 + (int)rng_below(&r, 500);
        a.work_max = 1 + (int)rng_below(&r, 4096);
        /* short decimals (as typed) and full-precision doubles */
        a.bg_radius = t % 2 ? 0.01 + 0.99 * (double)rng_uniform(&r) / 3.0 : (double)(1 + rng_below(&r, 100)) / 100;
        a.min_mask = t % 3 ? (double)rng_uniform(&r) / 7.0 : (double)rng_below(&r, 1000) / 1000;
        a.binary = (int)rng_below(&r, 2);
        /* DICOM inputs: the file's window, auto, or a fixed one (typed or full precision) */
        a.dicom_inputs = (int)rng_below(&r, 2);
        a.window.mode = (DicomVoiMode)rng_below(&r, 3);
        a.window.center = t % 2 ? (double)rng_below(&r, 8000) - 1000 : 4000.0 * (double)rng_uniform(&r) / 3.0;
        a.window.width = 1 + (t % 2 ? (double)rng_below(&r, 8000) : 4000.0 * (double)rng_uniform(&r) / 7.0);
        prep_describe(text, sizeof text, &a);
        if (prep_parse_describe(&b, text, &e) != HIPID_OK) {
            EXPECT(0, "cannot parse \"%s\": %s", text, e.msg);
            continue;
        }
        check_same(&a, &b, text);
        prep_describe(again, sizeof again, &b);
        EXPECT(strcmp(text, again) == 0, "\"%s\" came back as \"%s\"", text, again);
        n_ok++;
    }
    printf("info: %d random configurations round-trip\n", n_ok);

    /* what prep_describe wrote with %g before this parser existed (e.g. the
     * defaults at --size 64 and a --steps subset with --binary) */
    static const struct {
        const char *text;
        PrepConfig want;
    } legacy[] = {
        {"grey8(autorot,alpha-on-black),work<=256,background(median,r=0.35*content,grid=64,trim>10),"
         "otsu(mask),largest(8-conn),invert,resize=64(aspect,pad=255,lanczos3),minmax(0..255),"
         "min_mask=0.005,min_size=32",
         {.steps = PREP_ALL_STEPS, .size = 64, .work_max = 256, .min_size = 32, .bg_radius = 0.35, .min_mask = 0.005, .binary = 0}},
        {"grey8(autorot,alpha-on-black),work<=512,otsu(binary),resize=256(aspect,pad=0,lanczos3),"
         "minmax(0..255),min_mask=0.01,min_size=16",
         {.steps = PREP_OTSU, .size = 256, .work_max = 512, .min_size = 16, .bg_radius = 0.35, .min_mask = 0.01, .binary = 1}},
        {"grey8(autorot,alpha-on-black),work<=256,resize=32(aspect,pad=0,lanczos3),minmax(0..255),min_size=32",
         {.steps = 0, .size = 32, .work_max = 256, .min_size = 32, .bg_radius = 0.35, .min_mask = 0.005, .binary = 0}},
    };
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        PrepConfig b;
        EXPECT(prep_parse_describe(&b, legacy[i].text, &e) == HIPID_OK, "legacy string %zu: %s", i, e.msg);
        check_same(&legacy[i].want, &b, legacy[i].text);
    }

    const char *base = "grey8(autorot,alpha-on-black),work<=256,invert,resize=64(aspect,pad=255,lanczos3),"
                       "minmax(0..255),min_size=32";
    PrepConfig ok;
    EXPECT(prep_parse_describe(&ok, base, &e) == HIPID_OK, "base: %s", e.msg);
    expect_reject("grey8(autorot,alpha-on-black),work<=256,sharpen,resize=64(aspect,pad=0,lanczos3),"
                  "minmax(0..255),min_size=32", "unknown item 'sharpen'");
    expect_reject("synth phantoms, 64x64", "not made by hipid prep");
    expect_reject("", "not made by hipid prep");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,resize=64(aspect,pad=255,lanczos3),invert,"
                  "minmax(0..255),min_size=32", "not in the form");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,invert,resize=64(aspect,pad=0,lanczos3),"
                  "minmax(0..255),min_size=32", "not in the form");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,invert,minmax(0..255),min_size=32", "lacks");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,background(median,r=0.35*content,grid=32,trim>10),"
                  "resize=64(aspect,pad=0,lanczos3),minmax(0..255),min_size=32", "grid=64");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,resize=64(aspect,pad=0,lanczos3),minmax(0..255),"
                  "min_size=32x", "unknown item 'min_size=32x'");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,resize=64(aspect,pad=0,lanczos3),minmax(0..255),"
                  "min_size=32,min_size=32", "not in the form");
    /* crop: this hipid's margin only, after invert, and with a mask */
    expect_reject("grey8(autorot,alpha-on-black),work<=256,invert,crop(mask-bbox,square,margin=0.04),"
                  "resize=64(aspect,pad=255,lanczos3),minmax(0..255),min_size=32", "crop without otsu or largest");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,otsu(mask),invert,crop(mask-bbox,square,margin=0.05),"
                  "resize=64(aspect,pad=255,lanczos3),minmax(0..255),min_mask=0.005,min_size=32",
                  "unknown item 'crop(mask-bbox,square,margin=0.05)'");
    expect_reject("grey8(autorot,alpha-on-black),work<=256,otsu(mask),crop(mask-bbox,square,margin=0.04),invert,"
                  "resize=64(aspect,pad=255,lanczos3),minmax(0..255),min_mask=0.005,min_size=32", "not in the form");
    return tu_exit_status();
}
