/* dicom.h: DICOM radiographs to 8-bit grey pixels, for `hipid prep`.
 *
 * A thin C face on DCMTK (src/data/dicom.cc, the project's only C++ file):
 * parse the file from memory, decode the first frame (uncompressed, JPEG
 * baseline/extended/lossless, JPEG-LS and RLE: the decoders DCMTK ships),
 * then the display pipeline a radiologist's viewer runs:
 *   stored values (8-16 bit, signed or unsigned)
 *   -> Modality LUT (Rescale Slope/Intercept, or a Modality LUT Sequence)
 *   -> VOI (DicomWindow below: PS3.3 C.11.2.1.2 linear window, or the
 *      file's VOI LUT Sequence)
 *   -> MONOCHROME1 inverted, so bone is bright as in MONOCHROME2
 *   -> 0..255.
 * Colour files are converted to luminance first. Besides pixels it hands
 * back only PatientID and StudyInstanceUID (for leakage groups; the caller
 * decides whether to hash them) and the transfer syntax; no other header
 * field leaves this module. Messages do not name the file: callers prefix it.
 * No libvips, no HDF5: usable from C and C++.
 */
#ifndef HIPID_DICOM_H
#define HIPID_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Percentiles of the modality values that `auto` maps to 0 and 255
 * (numpy.percentile's default, linear interpolation between ranks). */
#define DICOM_AUTO_LO 0.5
#define DICOM_AUTO_HI 99.5

typedef enum {
    DICOM_VOI_FILE = 0, /* the file's first VOI LUT, else its first window, else auto */
    DICOM_VOI_AUTO,     /* percentile stretch DICOM_AUTO_LO..DICOM_AUTO_HI */
    DICOM_VOI_FIXED,    /* center, width below (linear, PS3.3 C.11.2.1.2.1) */
} DicomVoiMode;

typedef struct {
    DicomVoiMode mode;
    double center, width; /* DICOM_VOI_FIXED only; width >= 1 */
} DicomWindow;

/* What dicom_decode learned besides the pixels. Strings are NUL-terminated,
 * "" when the file lacks the element. */
typedef struct {
    char patient_id[72]; /* PatientID (LO, at most 64 characters) */
    char study_uid[72];  /* StudyInstanceUID */
    char ts_uid[72];     /* transfer syntax UID */
    int n_frames;        /* frames in the file; the first is decoded */
    char voi[96];        /* the VOI step that ran, e.g. "file window C=40 W=400" */
} DicomInfo;

/* 1 if the file looks like DICOM: the name ends in ".dcm" (any case) or the
 * bytes carry "DICM" at offset 128 (the Part 10 preamble; PACS exports often
 * have no extension). path may be NULL. */
int dicom_sniff(const char *path, const void *bytes, size_t n_bytes);

/* Decode the first frame of a DICOM file held in memory into *px (h, w),
 * malloc'd, owned by the caller (free). On failure returns -1 with one line
 * in err (at most err_cap bytes): not DICOM or corrupt (with DCMTK's words),
 * no pixel data (a report or other non-image object, its SOP class named),
 * a transfer syntax DCMTK cannot decode (its UID and name), a photometric
 * interpretation it cannot render. Returns 0 on success. Never throws. */
int dicom_decode(uint8_t **px, int *w, int *h, DicomInfo *info, const void *bytes, size_t n_bytes,
                 const DicomWindow *win, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
