/* model.c: spec parsing, presets, parameter blocks, forward/backward over the
 * layer list, PyTorch-default initialisation and HDF5 checkpoints. */
#include "hipid/nn/model.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/h5util.h"
#include "hipid/nn/layers.h"
#include "hipid/nn/ops.h"
#include "hipid/base/rng.h"


static const struct {
    const char *name, *spec;
} presets[] = {
    {"cnn-paper", "c16,r,c16,r,bn,mp2,c32,r,c32,r,bn,mp2,c64,r,c64,r,bn,mp2,fl,fc128,r,do0.5"},
    {"dnn-paper", "fl,fc512,r,do0.5,fc128,r"},
    /* a small ResNet: a stem convolution, then four basic blocks halving the
     * resolution and doubling the width three times */
    {"resnet-small", "c16k3,bn,r,res16,res32s2,res64s2,res128s2,gap,do0.2"},
};

const char *model_preset_spec(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0) return presets[i].spec;
    return NULL;
}

/* ---- parsing ---- */

/* Parse "<int>" at s; returns -1 if s does not start with a positive
 * integer of at most 2e9 (the layer bounds of model.h are checked after). */
static int parse_posint(const char *s, const char **end) {
    if (!isdigit((unsigned char)*s)) return -1;
    errno = 0;
    long v = strtol(s, (char **)end, 10);
    if (errno || v <= 0 || v > 2000000000L) return -1;
    return (int)v;
}

/* A flat vector longer than an int (the dense weight's dims are ints). */
static int flat_too_long(const char *tok, Shape in, ErrBuf *e) {
    if (shape_size(in) <= INT_MAX) return 0;
    hipid_err(e, "spec token '%s': its input %dx%dx%d has %ld values, more than the %d a flat vector may have",
              tok, in.c, in.h, in.w, shape_size(in), INT_MAX);
    return 1;
}

static Layer *layer_alloc(size_t size, const LayerOps *ops, const char *tok, Shape in) {
    Layer *l = xcalloc(1, size);
    l->ops = ops;
    snprintf(l->label, sizeof l->label, "%s", tok);
    l->in = in;
    l->out = in;
    return l;
}

static void add_tensor(Layer *l, const char *name, int ndim, const int *dims) {
    HIPID_CHECK(l->n_tensors < LAYER_MAX_TENSORS);
    TensorView *t = &l->tensors[l->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->size *= dims[i];
    }
}

/* Tensor offsets of a residual block's convolutions and batch norms. */
static const int res_convs[3] = {RES_CONV1, RES_CONV2, RES_PCONV}, res_bns[3] = {RES_BN1, RES_BN2, RES_PBN};

/* Batch-norm running statistics: "running_mean", or "bn1.running_mean" in a block. */
static int is_buffer(const TensorView *t) {
    const char *dot = strrchr(t->name, '.');
    return strncmp(dot ? dot + 1 : t->name, "running_", 8) == 0;
}

static void add_conv_tensors(Layer *l, const char *prefix, int oc, int c, int k) {
    char name[32];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add_tensor(l, name, 4, (int[]){oc, c, k, k});
    snprintf(name, sizeof name, "%s.bias", prefix);
    add_tensor(l, name, 1, (int[]){oc});
}

static void add_bn_tensors(Layer *l, const char *prefix, int c) {
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    char name[32];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", names[i]);
        add_tensor(l, name, 1, (int[]){c});
    }
}

/* Parse one token into a layer, given its input shape. */
static Layer *parse_token(const char *tok, Shape in, int index, ErrBuf *e) {
    const char *end = NULL;
    int flat = in.h == 1 && in.w == 1;
    if (tok[0] == 'c' && isdigit((unsigned char)tok[1])) {
        int oc = parse_posint(tok + 1, &end), k = 3, s = 1;
        while (oc > 0 && *end) {
            char key = *end;
            int v = parse_posint(end + 1, &end);
            if (v < 0 || (key != 'k' && key != 's')) { oc = -1; break; }
            if (key == 'k') k = v; else s = v;
        }
        if (oc <= 0 || k % 2 == 0 || (s != 1 && s != 2)) {
            hipid_err(e, "spec token '%s': expected c<out>[k<odd kernel>][s<1|2>], e.g. c32k5s2", tok);
            return NULL;
        }
        if (oc > MODEL_MAX_CHANNELS) {
            hipid_err(e, "spec token '%s': expected at most %d channels, found %d", tok, MODEL_MAX_CHANNELS, oc);
            return NULL;
        }
        if (k > MODEL_MAX_KERNEL) {
            hipid_err(e, "spec token '%s': expected a kernel of at most %d, found %d", tok, MODEL_MAX_KERNEL, k);
            return NULL;
        }
        if (flat) {
            hipid_err(e, "spec token '%s': convolution needs an image input, found a flat vector of %d", tok, in.c);
            return NULL;
        }
        ConvLayer *c = (ConvLayer *)layer_alloc(sizeof *c, &conv_ops, tok, in);
        c->k = k;
        c->stride = s;
        c->base.out = (Shape){oc, conv_out_size(in.h, k, s, k / 2), conv_out_size(in.w, k, s, k / 2)};
        add_tensor(&c->base, "weight", 4, (int[]){oc, in.c, k, k});
        add_tensor(&c->base, "bias", 1, (int[]){oc});
        return &c->base;
    }
    if (strncmp(tok, "res", 3) == 0) {
        int n = parse_posint(tok + 3, &end), s = 1;
        if (n > 0 && *end == 's') s = parse_posint(end + 1, &end);
        if (n <= 0 || *end || (s != 1 && s != 2)) {
            hipid_err(e, "spec token '%s': expected res<out>[s<1|2>], e.g. res64s2", tok);
            return NULL;
        }
        if (n > MODEL_MAX_CHANNELS) {
            hipid_err(e, "spec token '%s': expected at most %d channels, found %d", tok, MODEL_MAX_CHANNELS, n);
            return NULL;
        }
        if (flat) {
            hipid_err(e, "spec token '%s': a residual block needs an image input, found a flat vector of %d",
                      tok, in.c);
            return NULL;
        }
        ResLayer *r = (ResLayer *)layer_alloc(sizeof *r, &res_ops, tok, in);
        r->stride = s;
        r->proj = in.c != n || s != 1;
        r->base.out = (Shape){n, conv_out_size(in.h, 3, s, 1), conv_out_size(in.w, 3, s, 1)};
        add_conv_tensors(&r->base, "conv1", n, in.c, 3);
        add_bn_tensors(&r->base, "bn1", n);
        add_conv_tensors(&r->base, "conv2", n, n, 3);
        add_bn_tensors(&r->base, "bn2", n);
        if (r->proj) {
            add_conv_tensors(&r->base, "proj_conv", n, in.c, 1);
            add_bn_tensors(&r->base, "proj_bn", n);
        }
        return &r->base;
    }
    if (tok[0] == 'f' && tok[1] == 'c') {
        int o = parse_posint(tok + 2, &end);
        if (o <= 0 || *end) {
            hipid_err(e, "spec token '%s': expected fc<units>, e.g. fc128", tok);
            return NULL;
        }
        if (o > MODEL_MAX_UNITS) {
            hipid_err(e, "spec token '%s': expected at most %d units, found %d", tok, MODEL_MAX_UNITS, o);
            return NULL;
        }
        if (flat_too_long(tok, in, e)) return NULL;
        Layer *l = layer_alloc(sizeof *l, &dense_ops, tok, in);
        l->out = (Shape){o, 1, 1};
        add_tensor(l, "weight", 2, (int[]){o, (int)shape_size(in)});
        add_tensor(l, "bias", 1, (int[]){o});
        return l;
    }
    if (strcmp(tok, "r") == 0) {
        Layer *l = layer_alloc(sizeof *l, &relu_ops, tok, in);
        l->in_place = 1;
        return l;
    }
    if (strcmp(tok, "bn") == 0) {
        BnLayer *b = (BnLayer *)layer_alloc(sizeof *b, &bn_ops, tok, in);
        add_bn_tensors(&b->base, "", in.c);
        return &b->base;
    }
    if (strncmp(tok, "mp", 2) == 0) {
        int k = tok[2] ? parse_posint(tok + 2, &end) : 2;
        if (k <= 0 || (tok[2] && *end)) {
            hipid_err(e, "spec token '%s': expected mp or mp<window>, e.g. mp2", tok);
            return NULL;
        }
        if (flat || in.h < k || in.w < k) {
            hipid_err(e, "spec token '%s': max pool needs an image of at least %dx%d, found %dx%dx%d",
                      tok, k, k, in.c, in.h, in.w);
            return NULL;
        }
        PoolLayer *p = (PoolLayer *)layer_alloc(sizeof *p, &pool_ops, tok, in);
        p->k = k;
        p->base.out = (Shape){in.c, in.h / k, in.w / k};
        return &p->base;
    }
    if (strcmp(tok, "gap") == 0) {
        Layer *l = layer_alloc(sizeof *l, &gap_ops, tok, in);
        l->out = (Shape){in.c, 1, 1};
        return l;
    }
    if (strncmp(tok, "do", 2) == 0) {
        char *dend = NULL;
        errno = 0;
        double p = strtod(tok + 2, &dend);
        if (tok[2] == '\0' || *dend || errno || !(p >= 0.0 && p < 1.0)) {
            hipid_err(e, "spec token '%s': expected do<probability in [0,1)>, e.g. do0.5", tok);
            return NULL;
        }
        DropLayer *d = (DropLayer *)layer_alloc(sizeof *d, &dropout_ops, tok, in);
        d->p = (float)p;
        d->index = index;
        return &d->base;
    }
    if (strcmp(tok, "fl") == 0) {
        if (flat_too_long(tok, in, e)) return NULL;
        Layer *l = layer_alloc(sizeof *l, &flatten_ops, tok, in);
        l->out = (Shape){(int)shape_size(in), 1, 1};
        l->in_place = 1;
        return l;
    }
    hipid_err(e, "spec token '%s' is not a layer: expected one of c<N>[k<K>][s<S>], res<N>[s<S>], r, bn, "
                 "mp[<K>], gap, do<P>, fl, fc<N>", tok);
    return NULL;
}

static void model_free_layers(Model *m) {
    for (int i = 0; i < m->n_layers; i++) free(m->layers[i]);
    free(m->layers);
}

/* Split the spec into tokens and build the layer list (no memory for data yet). */
static int model_parse(Model *m, const char *spec, ErrBuf *e) {
    char buf[1024];
    char cut[128];
    if (strlen(spec) + 16 >= sizeof buf)
        return hipid_err(e, "spec '%s' is longer than %zu characters", str_cut(cut, sizeof cut, spec), sizeof buf - 16);
    snprintf(buf, sizeof buf, "%s", spec);
    /* sizes below are ints: an input beyond these bounds would overflow them
     * (a checkpoint's input_shape is read from a file) */
    if (m->in.c < 1 || m->in.c > MODEL_MAX_CHANNELS || m->in.h < 1 || m->in.h > MODEL_MAX_SIDE || m->in.w < 1 ||
        m->in.w > MODEL_MAX_SIDE)
        return hipid_err(e, "input shape %dx%dx%d: expected 1..%d channels and sides of 1..%d px", m->in.c, m->in.h,
                         m->in.w, MODEL_MAX_CHANNELS, MODEL_MAX_SIDE);
    int cap = 8;
    m->layers = xcalloc(cap, sizeof *m->layers);
    Shape cur = m->in;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save);; tok = strtok_r(NULL, ",", &save)) {
        char head[24];
        if (!tok) { /* append the classifier, flattening first if needed */
            if (cur.h != 1 || cur.w != 1) {
                snprintf(head, sizeof head, "fl");
                tok = head;
            } else {
                snprintf(head, sizeof head, "fc%d", m->n_classes);
                tok = head;
            }
        }
        while (*tok == ' ') tok++;
        if (strlen(tok) > 40)
            return hipid_err(e, "spec token '%s': expected a layer token of at most 40 characters",
                             str_cut(cut, sizeof cut, tok));
        if (tok[0] == 'f' && tok[1] == 'c' && (cur.h != 1 || cur.w != 1)) {
            /* implicit flatten before a dense layer on an image */
            if (m->n_layers == cap) m->layers = realloc(m->layers, sizeof *m->layers * (cap *= 2));
            Layer *fl = parse_token("fl", cur, m->n_layers, e);
            if (!fl) return HIPID_ERR;
            m->layers[m->n_layers++] = fl;
            cur = fl->out;
        }
        Layer *l = parse_token(tok, cur, m->n_layers, e);
        if (!l) return HIPID_ERR;
        if (m->n_layers == cap) {
            m->layers = realloc(m->layers, sizeof *m->layers * (cap *= 2));
            HIPID_CHECK(m->layers);
        }
        m->layers[m->n_layers++] = l;
        cur = l->out;
        if (tok == head && tok[0] == 'f' && tok[1] == 'c') break;
    }
    snprintf(m->spec, sizeof m->spec, "%s", spec);
    return HIPID_OK;
}

/* conv2d_scratch_floats (ops.c) in double: no overflow for any size. */
static double conv_scratch_d(double T, double C, double H, double W, double OC, double K, double OH, double OW) {
    double mx = C > OC ? C : OC, blocked = ceil(mx / 16.0) * 16.0 * mx * K * K;
    double col = C * K * K * OH * OW, pad = mx * (H + K - 1) * (W + K - 1) + 32.0;
    return blocked + T * (col > pad ? col : pad);
}

/* What model_alloc will take, in double arithmetic (so no size can
 * overflow), with `extra` more copies of the parameters and buffers (an
 * optimiser's state, a trainer's best weights); refused when more than
 * mem_available_bytes(), naming the layer that takes the most. */
static int model_budget(const Model *m, int extra, double *bytes, ErrBuf *e) {
    static const char *const kinds[3] = {"parameters", "activations", "convolution scratch"};
    double B = m->max_batch, T = m->n_threads, total = 0.0;
    double max_act = (double)shape_size(m->in), max_col = 1, max_dw = T, max_res = 1, worst_bytes = -1.0;
    int owned = 0, worst = 0, worst_kind = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        double part[3] = {0, 0, 0}; /* parameters, activations, scratch (floats) */
        for (int t = 0; t < l->n_tensors; t++)
            part[0] += (double)l->tensors[t].size * (is_buffer(&l->tensors[t]) ? 1 + extra : 2 + extra);
        double out = (double)shape_size(l->out), in = (double)shape_size(l->in);
        if (out > max_act) max_act = out;
        int view = l->ops == &flatten_ops;
        if (!(view || (l->in_place && owned))) { /* as model_alloc shares buffers */
            part[1] += B * out;
            owned = 1;
        }
        if (l->ops == &bn_ops) part[1] += 2.0 * l->in.c;
        else if (l->ops == &pool_ops) part[1] += B * out;
        else if (l->ops == &dropout_ops) part[1] += B * in;
        if (l->ops == &conv_ops) {
            const ConvLayer *c = (const ConvLayer *)l;
            double col = conv_scratch_d(T, l->in.c, l->in.h, l->in.w, l->out.c, c->k, l->out.h, l->out.w),
                   dw = T * (double)(l->tensors[0].size + l->tensors[1].size);
            if (col > max_col) max_col = col;
            if (dw > max_dw) max_dw = dw;
            part[2] = col + dw;
        } else if (l->ops == &res_ops) {
            const ResLayer *r = (const ResLayer *)l;
            part[1] += (r->proj ? 4.0 : 3.0) * B * out + 6.0 * l->out.c;
            for (int j = 0; j < (r->proj ? 3 : 2); j++) {
                const TensorView *w = &l->tensors[res_convs[j]];
                Shape s = j == 1 ? l->out : l->in;
                double col = conv_scratch_d(T, s.c, s.h, s.w, w->dims[0], w->dims[2], l->out.h, l->out.w),
                       dw = T * (double)(w->size + w[1].size);
                if (col > max_col) max_col = col;
                if (dw > max_dw) max_dw = dw;
                if (col + dw > part[2]) part[2] = col + dw;
            }
            double rs = B * (2.0 * out + (in > out ? in : out));
            if (rs > max_res) max_res = rs;
        }
        total += part[0] + part[1];
        for (int k = 0; k < 3; k++)
            if (4.0 * part[k] > worst_bytes) worst_bytes = 4.0 * part[k], worst = i, worst_kind = k;
    }
    total = 4.0 * (total + 2.0 * B * max_act + max_col + max_dw + max_res);
    if (bytes) *bytes = total;
    double avail = mem_available_bytes();
    if (total <= avail) return HIPID_OK;
    char need[32], all[32], have[32];
    return hipid_err(e, "layer %d '%s': %s of %s for batch %d at %dx%d (%s in all), more than the %s available",
                     worst + 1, m->layers[worst]->label, fmt_bytes(need, sizeof need, worst_bytes), kinds[worst_kind],
                     m->max_batch, m->in.w, m->in.h, fmt_bytes(all, sizeof all, total),
                     fmt_bytes(have, sizeof have, avail));
}

static void model_alloc(Model *m) {
    /* parameter, gradient and buffer blocks, views into them */
    for (int i = 0; i < m->n_layers; i++)
        for (int t = 0; t < m->layers[i]->n_tensors; t++) {
            TensorView *tv = &m->layers[i]->tensors[t];
            if (is_buffer(tv)) m->n_buffers += tv->size; else m->n_params += tv->size;
        }
    m->params = xcalloc_f32(m->n_params);
    m->grads = xcalloc_f32(m->n_params);
    m->buffers = xcalloc_f32(m->n_buffers);
    size_t po = 0, bo = 0, fl = 2 * m->n_params + m->n_buffers; /* fl: floats allocated (n_bytes) */
    long max_act = shape_size(m->in), max_col = 1, max_dw = 1, max_res = 1;
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        for (int t = 0; t < l->n_tensors; t++) {
            TensorView *tv = &l->tensors[t];
            if (is_buffer(tv)) {
                tv->data = m->buffers + bo;
                bo += tv->size;
            } else {
                tv->data = m->params + po;
                tv->grad = m->grads + po;
                po += tv->size;
            }
        }
        if (shape_size(l->out) > max_act) max_act = shape_size(l->out);
        if (l->ops == &conv_ops) {
            ConvLayer *c = (ConvLayer *)l;
            long col = conv2d_scratch_floats(m->n_threads, l->in.c, l->in.h, l->in.w, l->out.c, c->k,
                                             c->stride);
            long dw = l->tensors[0].size + l->tensors[1].size;
            if (col > max_col) max_col = col;
            if (dw > max_dw) max_dw = dw;
        } else if (l->ops == &res_ops) { /* its convolutions: conv1, conv2[, proj_conv] */
            ResLayer *r = (ResLayer *)l;
            for (int j = 0; j < (r->proj ? 3 : 2); j++) {
                const TensorView *w = &l->tensors[res_convs[j]];
                Shape s = j == 1 ? l->out : l->in;
                long col = conv2d_scratch_floats(m->n_threads, s.c, s.h, s.w, w->dims[0], w->dims[2],
                                                 j == 1 ? 1 : r->stride);
                long dw = w->size + w[1].size;
                if (col > max_col) max_col = col;
                if (dw > max_dw) max_dw = dw;
            }
            long rs = res_scratch_floats(r, m->max_batch);
            if (rs > max_res) max_res = rs;
        }
    }
    /* activations: a layer computing in place shares its input's buffer,
     * unless that input is the caller's x (layer 0 or a chain of views onto it) */
    int B = m->max_batch;
    m->acts = xcalloc(m->n_layers + 1, sizeof *m->acts);
    int owned = 0; /* does acts[i] point into model memory? */
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        int view = l->ops == &flatten_ops;
        if (view || (l->in_place && owned)) {
            m->acts[i + 1] = NULL; /* aliased at forward time */
        } else {
            m->acts[i + 1] = xmalloc_f32((size_t)B * shape_size(l->out));
            fl += (size_t)B * shape_size(l->out);
            owned = 1;
            l->in_place = 0;
        }
        if (view) l->in_place = 1;
        if (l->ops == &bn_ops) {
            BnLayer *b = (BnLayer *)l;
            b->mean = xcalloc_f32(l->in.c);
            b->invstd = xcalloc_f32(l->in.c);
            fl += 2 * (size_t)l->in.c;
        } else if (l->ops == &pool_ops) {
            ((PoolLayer *)l)->argmax = xcalloc((size_t)B * shape_size(l->out), sizeof(int32_t));
            fl += (size_t)B * shape_size(l->out);
        } else if (l->ops == &dropout_ops) {
            ((DropLayer *)l)->mask = xcalloc_f32((size_t)B * shape_size(l->in));
            fl += (size_t)B * shape_size(l->in);
        } else if (l->ops == &res_ops) {
            ResLayer *r = (ResLayer *)l;
            size_t n = (size_t)B * shape_size(l->out);
            r->a1 = xcalloc_f32(n);
            r->h1 = xcalloc_f32(n);
            r->a2 = xcalloc_f32(n);
            if (r->proj) r->ap = xcalloc_f32(n);
            for (int j = 0; j < 3; j++) {
                r->mean[j] = xcalloc_f32((size_t)l->out.c);
                r->invstd[j] = xcalloc_f32((size_t)l->out.c);
            }
            fl += (size_t)(r->proj ? 4 : 3) * n + 6 * (size_t)l->out.c;
        }
    }
    m->dbuf[0] = xmalloc_f32((size_t)B * max_act);
    m->dbuf[1] = xmalloc_f32((size_t)B * max_act);
    m->col_scratch = xmalloc_f32((size_t)max_col);
    m->dw_scratch = xmalloc_f32((size_t)m->n_threads * max_dw);
    m->res_scratch = xmalloc_f32((size_t)max_res);
    fl += 2 * (size_t)B * max_act + (size_t)max_col + (size_t)m->n_threads * max_dw + (size_t)max_res;
    m->n_bytes = fl * sizeof(float);
}

Model *model_create(const char *spec_or_preset, Shape in, int n_classes, int max_batch,
                    int n_threads, uint64_t seed, ErrBuf *e) {
    const char *spec = model_preset_spec(spec_or_preset);
    if (!spec) spec = spec_or_preset;
    if (in.c < 1 || in.h < 1 || in.w < 1 || n_classes < 2 || max_batch < 1 || n_threads < 1) {
        hipid_err(e, "model: need input >= 1x1x1, >= 2 classes, batch >= 1, threads >= 1; "
                     "found input %dx%dx%d, %d classes, batch %d, threads %d",
                  in.c, in.h, in.w, n_classes, max_batch, n_threads);
        return NULL;
    }
    /* hipid parallelises with OpenMP and calls OpenBLAS from inside its team:
     * one thread pool, OpenBLAS itself single-threaded */
    openblas_set_num_threads(1);
    Model *m = xcalloc(1, sizeof *m);
    m->in = in;
    m->n_classes = n_classes;
    m->max_batch = max_batch;
    m->n_threads = n_threads;
    m->seed = seed;
    m->input_mean = 0.0f;
    m->input_std = 1.0f;
    if (model_parse(m, spec, e) != HIPID_OK || model_budget(m, 0, NULL, e) != HIPID_OK) {
        model_free_layers(m);
        free(m);
        return NULL;
    }
    model_alloc(m);
    model_init_params(m, seed);
    return m;
}

/* model_check_spec (budget 0) and model_check_memory. */
static int model_check(const char *spec_or_preset, Shape in, int n_classes, int max_batch, int n_threads,
                       int extra_copies, int budget, double *bytes, ErrBuf *e) {
    const char *spec = model_preset_spec(spec_or_preset);
    if (!spec) spec = spec_or_preset;
    if (in.c < 1 || in.h < 1 || in.w < 1 || n_classes < 2 || max_batch < 1 || n_threads < 1 || extra_copies < 0)
        return hipid_err(e, "model: need input >= 1x1x1, >= 2 classes, batch >= 1, threads >= 1; found input "
                            "%dx%dx%d, %d classes, batch %d, threads %d", in.c, in.h, in.w, n_classes, max_batch,
                         n_threads);
    Model m = {.in = in, .n_classes = n_classes, .max_batch = max_batch, .n_threads = n_threads};
    int rc = model_parse(&m, spec, e);
    if (rc == HIPID_OK && budget) rc = model_budget(&m, extra_copies, bytes, e);
    model_free_layers(&m);
    return rc;
}

int model_check_spec(const char *spec_or_preset, Shape in, int n_classes, ErrBuf *e) {
    return model_check(spec_or_preset, in, n_classes, 1, 1, 0, 0, NULL, e);
}

int model_check_memory(const char *spec_or_preset, Shape in, int n_classes, int max_batch, int n_threads,
                       int extra_copies, double *bytes, ErrBuf *e) {
    return model_check(spec_or_preset, in, n_classes, max_batch, n_threads, extra_copies, 1, bytes, e);
}

void model_free(Model *m) {
    if (!m) return;
    free(m->times);
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        if (l->ops == &bn_ops) {
            free(((BnLayer *)l)->mean);
            free(((BnLayer *)l)->invstd);
        } else if (l->ops == &pool_ops) {
            free(((PoolLayer *)l)->argmax);
        } else if (l->ops == &dropout_ops) {
            free(((DropLayer *)l)->mask);
        } else if (l->ops == &res_ops) {
            ResLayer *r = (ResLayer *)l;
            free(r->a1), free(r->h1), free(r->a2), free(r->ap);
            for (int j = 0; j < 3; j++) free(r->mean[j]), free(r->invstd[j]);
        }
        if (!l->in_place) free(m->acts[i + 1]);
    }
    free(m->acts);
    model_free_layers(m);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->dbuf[0]);
    free(m->dbuf[1]);
    free(m->col_scratch);
    free(m->dw_scratch);
    free(m->res_scratch);
    free(m);
}

/* torch.nn.Conv2d/Linear: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) for weights, the same bound for biases. t: weight, bias. */
static void init_affine(TensorView *t, Rng *r) {
    long fan_in = t[0].size / t[0].dims[0];
    float bound = 1.0f / sqrtf((float)fan_in);
    for (int k = 0; k < 2; k++)
        for (long j = 0; j < t[k].size; j++) t[k].data[j] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

/* BatchNorm: weight 1, bias 0, running_mean 0, running_var 1. */
static void init_bn(TensorView *t) {
    for (int k = 0; k < 4; k++)
        for (long j = 0; j < t[k].size; j++) t[k].data[j] = (k == 0 || k == 3) ? 1.0f : 0.0f;
}

void model_init_params(Model *m, uint64_t seed) {
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        Rng r = rng_stream(seed, 0x1417u, (uint64_t)i, 0);
        if (l->ops == &conv_ops || l->ops == &dense_ops) {
            init_affine(l->tensors, &r);
        } else if (l->ops == &bn_ops) {
            init_bn(l->tensors);
        } else if (l->ops == &res_ops) {
            for (int j = 0; j < (((ResLayer *)l)->proj ? 3 : 2); j++) {
                init_affine(&l->tensors[res_convs[j]], &r);
                init_bn(&l->tensors[res_bns[j]]);
            }
        }
    }
}

/* The layers' view of m for one pass. */
static LayerCtx layer_ctx(const Model *m) {
    return (LayerCtx){.col_scratch = m->col_scratch, .dw_scratch = m->dw_scratch,
                      .res_scratch = m->res_scratch, .n_threads = m->n_threads,
                      .seed = m->seed, .step = m->step, .sample_base = m->sample_base,
                      .fixed_dropout = m->fixed_dropout, .last_train = m->last_train};
}

const float *model_forward(Model *m, const float *x, int N, int train) {
    HIPID_CHECK(N >= 1 && N <= m->max_batch);
    m->acts[0] = (float *)x;
    m->last_train = train;
    const LayerCtx cx = layer_ctx(m);
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        float *out = l->in_place ? m->acts[i] : m->acts[i + 1];
        if (l->in_place) m->acts[i + 1] = out;
        double t0 = m->times ? now_seconds() : 0.0;
        l->ops->forward(l, &cx, m->acts[i], out, N, train);
        if (m->times) m->times[i].fwd += now_seconds() - t0, m->times[i].n_fwd++;
    }
    if (train) m->step++;
    return m->acts[m->n_layers];
}

static int has_params(const Layer *l) { return l->n_tensors > 0 && l->tensors[0].grad; }

/* Backward through layers n_layers-1 down to stop+1 (stop >= -1); layer 0's
 * input gradient is computed only if stop == -1 and input_grad is set.
 * Returns the dbuf index holding the gradient at the output of layer stop. */
static int backward_range(Model *m, const float *dlogits, int N, int stop, int input_grad) {
    HIPID_CHECK(N >= 1 && N <= m->max_batch && stop >= -1 && stop < m->n_layers);
    int cur = 0;
    memcpy(m->dbuf[0], dlogits, sizeof(float) * N * m->n_classes);
    LayerCtx cx = layer_ctx(m);
    /* without an input gradient, nothing below the lowest layer with
     * parameters needs one (dnn-paper's first dense layer sits on a flatten:
     * its input gradient was a third of the step's multiply-adds) */
    int lowest = stop;
    if (stop == -1 && !input_grad)
        while (lowest + 1 < m->n_layers && !has_params(m->layers[lowest + 1])) lowest++;
    for (int i = m->n_layers - 1; i > lowest; i--) {
        Layer *l = m->layers[i];
        float *dout = m->dbuf[cur];
        float *din = i == lowest + 1 && stop == -1 && !input_grad ? NULL : l->in_place ? dout : m->dbuf[1 - cur];
        double t0 = m->times ? now_seconds() : 0.0;
        cx.t_w = m->times ? &m->times[i].bwd_w : NULL;
        l->ops->backward(l, &cx, m->acts[i], m->acts[i + 1], dout, din, N);
        if (m->times) m->times[i].bwd += now_seconds() - t0, m->times[i].n_bwd++;
        if (din && din != dout) cur = 1 - cur;
    }
    return cur;
}

void model_backward(Model *m, const float *dlogits, int N) { backward_range(m, dlogits, N, -1, 0); }

void model_backward_to(Model *m, const float *dlogits, int N, int layer, float *grad_out) {
    int cur = backward_range(m, dlogits, N, layer, 1);
    Shape s = layer < 0 ? m->in : m->layers[layer]->out;
    memcpy(grad_out, m->dbuf[cur], sizeof(float) * N * shape_size(s));
}

void model_zero_grads(Model *m) { memset(m->grads, 0, sizeof(float) * m->n_params); }

float *model_dropout_mask(Model *m, int i) {
    if (i < 0 || i >= m->n_layers || m->layers[i]->ops != &dropout_ops) return NULL;
    return ((DropLayer *)m->layers[i])->mask;
}

double model_layer_flops(const Model *m, int i) {
    const Layer *l = m->layers[i];
    double f = 0.0;
    if (l->ops == &conv_ops || l->ops == &dense_ops)
        f = 2.0 * (double)l->tensors[0].size * l->out.h * l->out.w;
    else if (l->ops == &res_ops) /* every convolution of the block runs at its output size */
        for (int j = 0; j < (((const ResLayer *)l)->proj ? 3 : 2); j++)
            f += 2.0 * (double)l->tensors[res_convs[j]].size * l->out.h * l->out.w;
    return f;
}

double model_forward_flops(const Model *m) {
    double f = 0.0;
    for (int i = 0; i < m->n_layers; i++) f += model_layer_flops(m, i);
    return f;
}

void model_profile(Model *m, int on) {
    free(m->times);
    m->times = on ? xcalloc((size_t)m->n_layers, sizeof(LayerTimes)) : NULL;
}

/* ---- checkpoints ---- */

static void tensor_path(char *buf, size_t cap, int layer, const Layer *l, const TensorView *t) {
    snprintf(buf, cap, "%02d.%s.%s", layer, l->ops->name, t->name);
}

int model_save(const Model *m, const char *path, ErrBuf *e) {
    char tmp[4096], name[96];
    int in[3] = {m->in.c, m->in.h, m->in.w};
    hid_t grp = H5I_INVALID_HID;
    hid_t file = h5_create_versioned(tmp, sizeof tmp, path, MODEL_FORMAT, MODEL_FORMAT_VERSION, e);
    if (file < 0) return HIPID_ERR;
    int ok = !(h5_attr_write_str(file, "spec", m->spec) || h5_attr_write_int(file, "input_shape", in, 3) ||
               h5_attr_write_int(file, "n_classes", &m->n_classes, 1) ||
               h5_attr_write_double(file, "input_mean", m->input_mean) ||
               h5_attr_write_double(file, "input_std", m->input_std) ||
               (grp = H5Gcreate2(file, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0);
    for (int i = 0; ok && i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        for (int t = 0; ok && t < l->n_tensors; t++) {
            const TensorView *tv = &l->tensors[t];
            hsize_t dims[4];
            for (int d = 0; d < tv->ndim; d++) dims[d] = (hsize_t)tv->dims[d];
            tensor_path(name, sizeof name, i, l, tv);
            ok = h5_write_f32(grp, name, tv->data, tv->ndim, dims) == HIPID_OK;
        }
    }
    if (grp >= 0 && H5Gclose(grp) < 0) ok = 0;
    return h5_finish_versioned(file, ok, tmp, path, "checkpoint", e);
}

/* Weights inside another file (a sweep's trial file) are one group per layer, "NN.<layer>/<tensor>". */
static void layer_group(char *buf, size_t cap, int layer, const Layer *l) {
    snprintf(buf, cap, "%02d.%s", layer, l->ops->name);
}

int model_write_h5(const Model *m, hid_t loc) {
    char name[64];
    int in[3] = {m->in.c, m->in.h, m->in.w};
    if (h5_attr_write_str(loc, "spec", m->spec) || h5_attr_write_int(loc, "input_shape", in, 3) ||
        h5_attr_write_int(loc, "n_classes", &m->n_classes, 1) ||
        h5_attr_write_double(loc, "input_mean", m->input_mean) ||
        h5_attr_write_double(loc, "input_std", m->input_std))
        return HIPID_ERR;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        if (l->n_tensors == 0) continue;
        layer_group(name, sizeof name, i, l);
        hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return HIPID_ERR;
        int bad = 0;
        for (int t = 0; !bad && t < l->n_tensors; t++) {
            const TensorView *tv = &l->tensors[t];
            hsize_t dims[4];
            for (int d = 0; d < tv->ndim; d++) dims[d] = (hsize_t)tv->dims[d];
            bad = h5_write_f32(g, tv->name, tv->data, tv->ndim, dims) != HIPID_OK;
        }
        if (H5Gclose(g) < 0 || bad) return HIPID_ERR;
    }
    return HIPID_OK;
}

Model *model_read_h5(hid_t loc, const char *path, int max_batch, int n_threads, ErrBuf *e) {
    char spec[1024] = "", name[64];
    int in[3], n_classes = 0;
    double mean = 0.0, std = 1.0;
    if (h5_attr_read_str(loc, "spec", spec, sizeof spec) || h5_attr_read_int(loc, "input_shape", in, 3) ||
        h5_attr_read_int(loc, "n_classes", &n_classes, 1) || h5_attr_read_double(loc, "input_mean", &mean) ||
        h5_attr_read_double(loc, "input_std", &std) || !(std > 0.0)) {
        hipid_err(e, "%s: weights lack the spec, input_shape, n_classes, input_mean or input_std attribute", path);
        return NULL;
    }
    Model *m = model_create(spec, (Shape){in[0], in[1], in[2]}, n_classes, max_batch, n_threads, 0, e);
    if (!m) return NULL;
    m->input_mean = (float)mean;
    m->input_std = (float)std;
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        if (l->n_tensors == 0) continue;
        layer_group(name, sizeof name, i, l);
        hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
        if (g < 0) {
            hipid_err(e, "%s: weights group %s is missing", path, name);
            model_free(m);
            return NULL;
        }
        int bad = 0;
        for (int t = 0; !bad && t < l->n_tensors; t++) {
            TensorView *tv = &l->tensors[t];
            hsize_t dims[4];
            for (int d = 0; d < tv->ndim; d++) dims[d] = (hsize_t)tv->dims[d];
            bad = h5_read_f32(g, tv->name, tv->data, tv->ndim, dims, path, e) != HIPID_OK;
        }
        H5Gclose(g);
        if (bad) {
            model_free(m);
            return NULL;
        }
    }
    return m;
}

Model *model_load(const char *path, int max_batch, int n_threads, ErrBuf *e) {
    char spec[1024] = "", name[96];
    int in[3], n_classes = 0;
    Model *m = NULL;
    hid_t file = H5I_INVALID_HID, grp = H5I_INVALID_HID;
    h5_quiet();
    if ((file = h5_open_versioned(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "checkpoint",
                                  "retrain or use the hipid that wrote it", e)) < 0)
        return NULL;
    if (h5_attr_read_str(file, "spec", spec, sizeof spec) || h5_attr_read_int(file, "input_shape", in, 3) ||
        h5_attr_read_int(file, "n_classes", &n_classes, 1)) {
        hipid_err(e, "%s: checkpoint lacks the spec, input_shape or n_classes attribute", path);
        goto error;
    }
    if (!(m = model_create(spec, (Shape){in[0], in[1], in[2]}, n_classes, max_batch, n_threads, 0, e)))
        goto error;
    double mean = 0.0, std = 1.0;
    if (h5_attr_read_double(file, "input_mean", &mean) || h5_attr_read_double(file, "input_std", &std) ||
        !(std > 0.0)) {
        hipid_err(e, "%s: checkpoint lacks input_mean/input_std (or std <= 0)", path);
        goto error;
    }
    m->input_mean = (float)mean;
    m->input_std = (float)std;
    if ((grp = H5Gopen2(file, "tensors", H5P_DEFAULT)) < 0) {
        hipid_err(e, "%s: group /tensors is missing", path);
        goto error;
    }
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        for (int t = 0; t < l->n_tensors; t++) {
            TensorView *tv = &l->tensors[t];
            hsize_t dims[4];
            for (int d = 0; d < tv->ndim; d++) dims[d] = (hsize_t)tv->dims[d];
            tensor_path(name, sizeof name, i, l, tv);
            if (h5_read_f32(grp, name, tv->data, tv->ndim, dims, path, e)) goto error;
        }
    }
    H5Gclose(grp);
    H5Fclose(file);
    return m;
error:
    model_free(m);
    if (grp >= 0) H5Gclose(grp);
    if (file >= 0) H5Fclose(file);
    return NULL;
}
