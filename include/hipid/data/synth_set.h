/* synth_set.h: a whole phantom data set on disk (`hipid synth`): one PNG per
 * image in a folder per design and a manifest with patient ids, drawn with
 * synth.h (hips, a table of stem designs) or synth_shoulder.h (shoulders,
 * random implant designs). */
#ifndef HIPID_SYNTH_SET_H
#define HIPID_SYNTH_SET_H

#include <stdint.h>

#include "hipid/base/common.h"

#define SYNTH_HIP 0
#define SYNTH_SHOULDER 1
/* Most classes of a shoulder set (random designs; hips have their table). */
#define SYNTH_SHOULDER_MAX_CLASSES 1000

typedef struct {
    const char *out_dir;
    int anatomy; /* SYNTH_HIP or SYNTH_SHOULDER */
    int per_class, n_classes, size;
    uint64_t seed;
    double imbalance; /* class k has about per_class * imbalance^(-k/(K-1)) images */
} SynthSetConfig;

/* Most classes the anatomy allows. */
int synth_max_classes(int anatomy);

/* Class k's folder and label: the hip design's name, or shoulder-NNN. */
void synth_class_name(char *buf, size_t cap, int anatomy, int k);

/* Images of class k (0 <= k < n_classes); at least 1. */
int synth_class_size(const SynthSetConfig *c, int k);

/* Write the data set: out_dir/<design>/<patient>_v<view>.png and
 * out_dir/manifest.csv (path,label,patient_id,side; written to a temporary
 * name and renamed). Creates out_dir if needed; does not check that it is
 * empty (the caller decides) and deletes nothing. Renders in parallel with
 * OpenMP; the bytes do not depend on the thread count. Returns the number of
 * images written, or HIPID_ERR with a message naming the failing path. */
int synth_write_set(const SynthSetConfig *c, ErrBuf *e);

#endif
