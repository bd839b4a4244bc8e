/* synth_shoulder.h: procedural phantoms of shoulder radiographs after a
 * shoulder arthroplasty, one randomly drawn humeral-implant design per class
 * ("hipid synth --anatomy shoulder").
 *
 * Why random designs: a network pretrained to tell many implant shapes apart
 * learns what distinguishes implants (stem length and taper, the head's
 * size, height and offset, the inclination of the cut, collars, fins, holes,
 * slots) rather than the few designs of a table. Class k's design is a
 * deterministic function of (seed, k), so the same seed gives the same
 * families.
 *
 * What an image holds, drawn into the shared canvas (synth_canvas.h): soft
 * tissue of the shoulder and chest wall, the scapula (glenoid with a dense
 * rim, body, acromion, coracoid), the clavicle, ribs, the humerus after a
 * head resection (cortex and canal), the implant (stem, optional collar,
 * taper gap, fins with holes, suture holes, a distal slot, the humeral head
 * as a spherical cap), in half the patients a glenoid component's metal
 * pegs, the clutter of real films, and the film. Poses cover the views of a
 * clinical set: upright within +-25 degrees, or the arm abducted (60-110
 * degrees either way), mirrored for left shoulders, zoomed and shifted.
 *
 * Canonical frame: x right, y down, [0,1] spans the image at zoom 1, the
 * right shoulder with medial towards +x. It does not do physics, trabecular
 * texture or 3-D projection.
 */
#ifndef HIPID_SYNTH_SHOULDER_H
#define HIPID_SYNTH_SHOULDER_H

#include <stdint.h>

#include "hipid/data/synth_canvas.h"

#define SHOULDER_MAX_HOLES 4

/* One humeral-implant design. Lengths are canonical units (1 = the image
 * width at zoom 1), in the stem's frame: v down the shaft axis from the
 * centre of the resection cut, u medial. Widths are half-widths. */
typedef struct {
    float length;          /* cut centre to tip */
    float w_prox, w_dist;  /* metaphyseal body, tip */
    float body_len;        /* where the body's medial flare meets the shaft */
    float taper_end;       /* fraction of the shaft below the body that tapers; parallel below */
    float tip_round;       /* 0 pointed .. 1 bullet */
    float incl_deg;        /* neck-shaft angle: the head's axis from the shaft axis (distal) */
    float head_r;          /* radius of the head's sphere */
    float head_h;          /* height of the cap as a fraction of head_r */
    float head_off;        /* eccentric offset of the head along the cut */
    float collar_t;        /* plate on the cut under the head (0 = none) */
    float collar_w;        /* its half-length as a fraction of the cap's base */
    float gap;             /* taper junction: gap between cut and head bridged by a trunnion (0 = none) */
    int n_fins;            /* 0..3: lateral fin, medial fin, anterior fin seen face-on */
    float fin_len, fin_reach;
    int fin_holes;         /* holes through each fin, 0..2 */
    int n_holes;           /* suture holes in the body, 0..SHOULDER_MAX_HOLES */
    float hole_r;
    float slot;            /* length of a slot through the distal stem (0 = none) */
} ShoulderDesign;

/* Class k's design for this seed. */
void synth_shoulder_design(ShoulderDesign *d, uint64_t seed, int k);

/* Everything one image depends on. */
typedef struct {
    int design, side;             /* side: SYNTH_RIGHT or SYNTH_LEFT */
    ShoulderDesign d;
    /* per patient */
    float implant_scale, head_scale;
    float head_x, head_y;         /* canonical position of the cut's centre */
    float shaft_tilt_deg;         /* shaft axis from vertical, distal end lateral if > 0 */
    float humerus_w, cortex;      /* diaphyseal half-width; cortical thickness */
    float bone, soft;             /* bone and soft-tissue attenuation */
    float skin_r;                 /* radius of the shoulder's skin outline */
    float scap_dx, scap_dy, scap_scale;
    int glenoid_pegs;             /* 0 (hemiarthroplasty) or 1..3 metal pegs of a glenoid component */
    /* per view */
    float rot_deg, zoom, tx, ty;  /* pose about the image centre */
    float axial;                  /* cosine of the arm's rotation: foreshortens the implant's width */
    SynthFilm film;
    SynthClutter clutter;
} ShoulderParams;

/* Number of views (images) of a patient: 2..4. */
int synth_shoulder_views(uint64_t seed, int k, int patient);

/* The parameters of view `view` >= 1 of a patient of class k; as for the hip
 * phantoms, a later view is sometimes a low-resolution copy of view 1. */
void synth_shoulder_sample(ShoulderParams *p, uint64_t seed, int k, int patient, int view);

/* Render p into img: (size, size) 8-bit grey, row-major. size >= 16. */
void synth_shoulder_draw(uint8_t *img, int size, const ShoulderParams *p);

#endif
