/* dicom.cc: DICOM radiographs to 8-bit grey pixels through DCMTK. See dicom.h.
 *
 * The project's only C++ file, kept thin: DCMTK parses the file and decodes
 * the first frame. The rescale (slope, intercept) is applied here in double
 * (DCMTK's intermediate values are integers: a slope of 0.5 would truncate);
 * a Modality LUT Sequence is DCMTK's. Linear
 * windows (the file's, --window C,W, auto) are applied here to DCMTK's
 * modality values, rounded to nearest (DCMTK truncates, so MONOCHROME1 and
 * MONOCHROME2 of one image would differ by 1 in places); VOI LUTs and
 * non-linear window functions are DCMTK's rendering, which inverts
 * MONOCHROME1 itself. This file also copies out two identifiers. Every
 * DCMTK call sits behind one try/catch: no exception crosses into C.
 *
 * DCMTK's decoder registry and logger are process-wide; they are set up once
 * (a function-local static, thread-safe in C++11) and left registered until
 * exit (DCMTK keeps them reachable, so leak checkers stay quiet).
 */
#include "hipid/data/dicom.h"

#include <dcmtk/config/osconfig.h>

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h> /* colour images (converted to luminance) */
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmimgle/dipixel.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

struct Fail {}; /* thrown after err has been written */

void fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    throw Fail();
}

/* Decoders for JPEG (baseline, extended, lossless), JPEG-LS and RLE, and a
 * silent logger (a bad file becomes one skip line, not DCMTK's warnings). */
void start_dcmtk() {
    static const bool once = [] {
        OFLog::configure(OFLogger::OFF_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        return true;
    }();
    (void)once;
}

void get_string(char *out, size_t cap, DcmItem *item, const DcmTagKey &tag) {
    OFString s;
    out[0] = '\0';
    if (item && item->findAndGetOFString(tag, s).good()) snprintf(out, cap, "%s", s.c_str());
}

/* numpy.percentile (linear interpolation) of v at p percent; v is reordered. */
double percentile(std::vector<double> &v, double p) {
    double k = p / 100.0 * (double)(v.size() - 1);
    size_t i = (size_t)std::floor(k);
    std::nth_element(v.begin(), v.begin() + (long)i, v.end());
    double a = v[i];
    if (i + 1 >= v.size()) return a;
    double b = *std::min_element(v.begin() + (long)i + 1, v.end());
    return a + (k - (double)i) * (b - a);
}

template <typename T> void collect(std::vector<double> &v, const void *data, unsigned long n) {
    const T *p = static_cast<const T *>(data);
    v.assign(p, p + n);
}

/* The decoded frame's values as DCMTK holds them: stored values when the
 * image was opened with CIF_IgnoreModalityTransformation, else modality values. */
std::vector<double> inter_values(const DicomImage &img, char *err, size_t cap) {
    const DiPixel *inter = img.getInterData();
    std::vector<double> v;
    if (!inter || !inter->getData() || inter->getCount() == 0) fail(err, cap, "no decoded pixel values");
    unsigned long n = std::min(inter->getCount(), img.getWidth() * img.getHeight());
    switch (inter->getRepresentation()) {
    case EPR_Uint8: collect<Uint8>(v, inter->getData(), n); break;
    case EPR_Sint8: collect<Sint8>(v, inter->getData(), n); break;
    case EPR_Uint16: collect<Uint16>(v, inter->getData(), n); break;
    case EPR_Sint16: collect<Sint16>(v, inter->getData(), n); break;
    case EPR_Uint32: collect<Uint32>(v, inter->getData(), n); break;
    case EPR_Sint32: collect<Sint32>(v, inter->getData(), n); break;
    default: fail(err, cap, "unexpected intermediate pixel representation %d", (int)inter->getRepresentation());
    }
    return v;
}

/* The VOI step chosen for one image: a linear window (computed here, with
 * rounding, so MONOCHROME1 and MONOCHROME2 of one image agree pixel for
 * pixel), or DCMTK's rendering (a VOI LUT, a SIGMOID or LINEAR_EXACT window). */
struct Voi {
    bool linear;
    double c, w;
};

/* Percentile stretch: DICOM_AUTO_LO..DICOM_AUTO_HI of the modality values
 * to 0..255 (min..max if those coincide), as a PS3.3 linear window. */
Voi window_auto(std::vector<double> v, DicomInfo *info) {
    double lo = percentile(v, DICOM_AUTO_LO), hi = percentile(v, DICOM_AUTO_HI);
    if (hi <= lo) {
        lo = *std::min_element(v.begin(), v.end());
        hi = *std::max_element(v.begin(), v.end());
    }
    snprintf(info->voi, sizeof info->voi, "auto p%g..p%g = %g..%g", DICOM_AUTO_LO, DICOM_AUTO_HI, lo, hi);
    /* PS3.3 linear: (x - (c - 0.5)) / (w - 1) + 0.5 maps lo..hi to 0..1 */
    return Voi{true, (lo + hi) / 2 + 0.5, hi - lo + 1};
}

Voi choose_voi(DicomImage &img, DcmDataset *ds, const std::vector<double> &v, DicomInfo *info, const DicomWindow *win,
               char *err, size_t cap) {
    if (win->mode == DICOM_VOI_FIXED) {
        snprintf(info->voi, sizeof info->voi, "window C=%g W=%g", win->center, win->width);
        return Voi{true, win->center, win->width};
    }
    if (win->mode == DICOM_VOI_FILE && img.getVoiLutCount() > 0) {
        if (!img.setVoiLut(0)) fail(err, cap, "cannot apply the file's VOI LUT");
        snprintf(info->voi, sizeof info->voi, "file VOI LUT");
        return Voi{false, 0, 0};
    }
    double c = 0, w = 0;
    if (win->mode == DICOM_VOI_FILE && ds->findAndGetFloat64(DCM_WindowCenter, c, 0).good() &&
        ds->findAndGetFloat64(DCM_WindowWidth, w, 0).good() && w >= 1) {
        OFString fn;
        snprintf(info->voi, sizeof info->voi, "file window C=%g W=%g", c, w);
        if (ds->findAndGetOFString(DCM_VOILUTFunction, fn).bad() || fn == "LINEAR" || fn.empty())
            return Voi{true, c, w};
        if (!img.setWindow(0)) fail(err, cap, "cannot apply the file's %s window", fn.c_str());
        return Voi{false, 0, 0};
    }
    return window_auto(v, info);
}

/* PS3.3 C.11.2.1.2.1 linear window to 0..255, rounded; MONOCHROME1 inverted. */
void render_linear(uint8_t *out, const std::vector<double> &v, double c, double w, bool mono1) {
    const double left = c - 0.5 - (w - 1) / 2, right = c - 0.5 + (w - 1) / 2;
    for (size_t i = 0; i < v.size(); i++) {
        double y = v[i] <= left ? 0.0 : v[i] > right ? 1.0 : (v[i] - (c - 0.5)) / (w - 1) + 0.5;
        y = 255.0 * (mono1 ? 1.0 - y : y);
        out[i] = (uint8_t)std::floor(std::min(255.0, std::max(0.0, y)) + 0.5);
    }
}

/* Parse the bytes; fills the identifiers and transfer syntax of info. */
void parse(DcmFileFormat &ff, DicomInfo *info, const void *bytes, size_t n, char *err, size_t cap) {
    DcmInputBufferStream in;
    in.setBuffer(bytes, (offile_off_t)n);
    in.setEos();
    ff.transferInit();
    OFCondition st = ff.read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
    ff.transferEnd();
    if (st.bad() || st == EC_StreamNotifyClient)
        fail(err, cap, "not a readable DICOM file (DCMTK: %s%s)", st.text(),
             st == EC_StreamNotifyClient ? ": truncated" : "");
    DcmDataset *ds = ff.getDataset();
    get_string(info->patient_id, sizeof info->patient_id, ds, DCM_PatientID);
    get_string(info->study_uid, sizeof info->study_uid, ds, DCM_StudyInstanceUID);
    get_string(info->ts_uid, sizeof info->ts_uid, ff.getMetaInfo(), DCM_TransferSyntaxUID);
    if (!info->ts_uid[0]) snprintf(info->ts_uid, sizeof info->ts_uid, "%s", DcmXfer(ds->getOriginalXfer()).getXferID());
    Sint32 frames = 1;
    if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
    info->n_frames = (int)frames;
}

/* Refuse, with a reason, what DicomImage could not render. */
void check_decodable(DcmDataset *ds, const DicomInfo *info, char *err, size_t cap) {
    if (!ds->tagExists(DCM_PixelData)) {
        char sop[72];
        get_string(sop, sizeof sop, ds, DCM_SOPClassUID);
        const char *name = sop[0] ? dcmFindNameOfUID(sop, "unknown SOP class") : "no SOP class";
        fail(err, cap, "DICOM file without pixel data (SOP class %s, %s): not an image", sop[0] ? sop : "-", name);
    }
    E_TransferSyntax xfer = ds->getOriginalXfer();
    if (info->ts_uid[0] && DcmXfer(info->ts_uid).getXfer() == EXS_Unknown) xfer = EXS_Unknown; /* private */
    DcmXfer x(xfer);
    if (xfer == EXS_Unknown || (x.isEncapsulated() && !DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit)))
        fail(err, cap, "cannot decode transfer syntax %s (%s): DCMTK has no decoder for it", info->ts_uid,
             xfer == EXS_Unknown ? dcmFindNameOfUID(info->ts_uid, "unknown/private") : x.getXferName());
}

/* The first frame as a grey DicomImage; flags as DicomImage takes them. */
std::unique_ptr<DicomImage> open_image(DcmDataset *ds, unsigned long flags, const DicomInfo *info, char *err,
                                       size_t cap) {
    std::unique_ptr<DicomImage> img(new DicomImage(ds, ds->getOriginalXfer(), flags, 0, 1));
    if (img->getStatus() != EIS_Normal)
        fail(err, cap, "cannot decode the pixels (transfer syntax %s; DCMTK: %s)", info->ts_uid,
             DicomImage::getString(img->getStatus()));
    if (!img->isMonochrome()) {
        std::unique_ptr<DicomImage> mono(img->createMonochromeImage());
        if (!mono || mono->getStatus() != EIS_Normal) fail(err, cap, "cannot convert the colour image to grey");
        img = std::move(mono);
    }
    return img;
}

/* Modality values: stored * RescaleSlope + RescaleIntercept in double, or
 * DCMTK's Modality LUT Sequence when the file has one (*rescaled = 0). */
std::vector<double> modality_values(std::unique_ptr<DicomImage> &img, int *rescaled, DcmDataset *ds,
                                    const DicomInfo *info, char *err, size_t cap) {
    *rescaled = !ds->tagExists(DCM_ModalityLUTSequence);
    img = open_image(ds, CIF_UsePartialAccessToPixelData | (*rescaled ? CIF_IgnoreModalityTransformation : 0), info,
                     err, cap);
    std::vector<double> v = inter_values(*img, err, cap);
    double slope = 1, icpt = 0;
    OFString pi;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, pi);
    if (*rescaled && pi.compare(0, 10, "MONOCHROME") == 0 && ds->findAndGetFloat64(DCM_RescaleSlope, slope).good() &&
        ds->findAndGetFloat64(DCM_RescaleIntercept, icpt).good() && std::isfinite(slope) && std::isfinite(icpt))
        for (double &x : v) x = x * slope + icpt;
    return v;
}

void decode(uint8_t **px, int *w, int *h, DicomInfo *info, const void *bytes, size_t n, const DicomWindow *win,
            char *err, size_t cap) {
    DcmFileFormat ff;
    parse(ff, info, bytes, n, err, cap);
    DcmDataset *ds = ff.getDataset();
    check_decodable(ds, info, err, cap);
    std::unique_ptr<DicomImage> img;
    int rescaled = 0;
    std::vector<double> v = modality_values(img, &rescaled, ds, info, err, cap);
    unsigned long W = img->getWidth(), H = img->getHeight();
    if (W == 0 || H == 0 || (double)W * H > 256e6) fail(err, cap, "unusable image size %lux%lu", W, H);
    if (v.size() != W * H) fail(err, cap, "decoded %zu pixel values, expected %lux%lu", v.size(), W, H);
    /* DCMTK's own rendering (VOI LUT, non-linear windows) needs its modality step */
    if (rescaled && win->mode == DICOM_VOI_FILE &&
        (ds->tagExists(DCM_VOILUTSequence) || ds->tagExists(DCM_VOILUTFunction)))
        img = open_image(ds, CIF_UsePartialAccessToPixelData, info, err, cap);
    Voi voi = choose_voi(*img, ds, v, info, win, err, cap);
    const void *out = voi.linear ? nullptr : img->getOutputData(8, 0, 0);
    if (!voi.linear && !out)
        fail(err, cap, "cannot render the pixels (DCMTK: %s)", DicomImage::getString(img->getStatus()));
    *px = static_cast<uint8_t *>(malloc(W * H));
    if (!*px) fail(err, cap, "out of memory for %lux%lu pixels", W, H);
    if (voi.linear)
        render_linear(*px, v, voi.c, voi.w, img->getPhotometricInterpretation() == EPI_Monochrome1);
    else
        memcpy(*px, out, W * H);
    *w = (int)W;
    *h = (int)H;
}

} // namespace

extern "C" int dicom_sniff(const char *path, const void *bytes, size_t n_bytes) {
    if (n_bytes >= 132 && memcmp(static_cast<const char *>(bytes) + 128, "DICM", 4) == 0) return 1;
    size_t len = path ? strlen(path) : 0;
    return len >= 4 && strcasecmp(path + len - 4, ".dcm") == 0;
}

extern "C" int dicom_decode(uint8_t **px, int *w, int *h, DicomInfo *info, const void *bytes, size_t n_bytes,
                            const DicomWindow *win, char *err, size_t err_cap) {
    *px = nullptr;
    *w = *h = 0;
    memset(info, 0, sizeof *info);
    if (err_cap) err[0] = '\0';
    try {
        if (n_bytes == 0) fail(err, err_cap, "empty file (0 bytes)");
        start_dcmtk();
        decode(px, w, h, info, bytes, n_bytes, win, err, err_cap);
        return 0;
    } catch (const Fail &) {
    } catch (const std::exception &ex) {
        snprintf(err, err_cap, "DICOM decoding failed: %s", ex.what());
    } catch (...) {
        snprintf(err, err_cap, "DICOM decoding failed (unknown C++ exception)");
    }
    free(*px);
    *px = nullptr;
    *w = *h = 0;
    return -1;
}
