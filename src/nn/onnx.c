/* onnx.c: a Model as an ONNX ModelProto (see onnx.h for the graph and the
 * metadata), built with the protobuf-c code that protoc-c generates from
 * onnx.proto (build/gen/onnx.pb-c.h; this file is its only user).
 * The messages point into one builder: every allocation is kept in a list
 * and freed at the end; tensors point straight into the model's parameter
 * and buffer blocks (no copies). Does not read anything.
 */
#include "hipid/nn/onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "onnx.pb-c.h"

/* The graph under construction and everything allocated for it. */
typedef struct {
    void **keep;                   /* (n_keep) allocations, freed by graph_free */
    size_t n_keep, cap_keep;
    Onnx__NodeProto **nodes;       /* (cap_nodes) */
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;     /* (cap_inits) */
    size_t n_inits, cap_inits;
    const char *cur;               /* the value the next layer reads */
    int flat;                      /* cur is [N,C] (else [N,C,H,W]) */
} Graph;

static void *g_keep(Graph *g, void *p) {
    if (g->n_keep == g->cap_keep) {
        g->cap_keep = g->cap_keep ? 2 * g->cap_keep : 256;
        void **k = realloc(g->keep, g->cap_keep * sizeof *k);
        HIPID_CHECK(k != NULL);
        g->keep = k;
    }
    g->keep[g->n_keep++] = p;
    return p;
}

static void *g_alloc(Graph *g, size_t n) { return g_keep(g, xcalloc(1, n)); }

static char *g_str(Graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *g_str(Graph *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = g_alloc(g, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void graph_free(Graph *g) {
    for (size_t i = 0; i < g->n_keep; i++) free(g->keep[i]);
    free(g->keep);
    free(g->nodes);
    free(g->inits);
}

/* ---- attributes, initializers, nodes ---- */

static Onnx__AttributeProto *attr_int(Graph *g, const char *name, int64_t v) {
    Onnx__AttributeProto *a = g_alloc(g, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1, a->i = v;
    return a;
}

static Onnx__AttributeProto *attr_float(Graph *g, const char *name, float v) {
    Onnx__AttributeProto *a = g_alloc(g, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1, a->f = v;
    return a;
}

/* n copies of v (kernel_shape, strides, pads of square windows). */
static Onnx__AttributeProto *attr_ints(Graph *g, const char *name, int n, int64_t v) {
    Onnx__AttributeProto *a = g_alloc(g, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = (size_t)n;
    a->ints = g_alloc(g, (size_t)n * sizeof *a->ints);
    for (int i = 0; i < n; i++) a->ints[i] = v;
    return a;
}

/* A float initializer named name of shape dims (ndim 0: a scalar) whose
 * values stay in data (not copied). Returns its name. */
static const char *g_init(Graph *g, const char *name, int ndim, const int *dims, float *data, long size) {
    HIPID_CHECK(g->n_inits < g->cap_inits);
    Onnx__TensorProto *t = g_alloc(g, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)ndim;
    t->dims = ndim ? g_alloc(g, (size_t)ndim * sizeof *t->dims) : NULL;
    for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
    t->n_float_data = (size_t)size, t->float_data = data;
    g->inits[g->n_inits++] = t;
    return name;
}

/* A scalar initializer holding v. */
static const char *g_scalar(Graph *g, const char *name, float v) {
    float *x = g_alloc(g, sizeof *x);
    *x = v;
    return g_init(g, name, 0, NULL, x, 1);
}

/* Layer i's tensor t as an initializer, named as in checkpoints. */
static const char *g_tensor(Graph *g, int i, const Layer *l, int t) {
    const TensorView *v = &l->tensors[t];
    return g_init(g, g_str(g, "%02d.%s.%s", i, l->ops->name, v->name), v->ndim, v->dims, v->data, v->size);
}

/* Add node op(in[0..n_in)) with attributes at[0..n_at) and one output,
 * named out (also the node's name); returns out. */
static const char *g_node(Graph *g, const char *op, const char *out, const char *const *in, int n_in,
                          Onnx__AttributeProto **at, int n_at) {
    HIPID_CHECK(g->n_nodes < g->cap_nodes);
    Onnx__NodeProto *n = g_alloc(g, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)out;
    n->n_input = (size_t)n_in;
    n->input = g_alloc(g, (size_t)n_in * sizeof *n->input);
    for (int k = 0; k < n_in; k++) n->input[k] = (char *)in[k];
    n->n_output = 1;
    n->output = g_alloc(g, sizeof *n->output);
    n->output[0] = (char *)out;
    if (n_at) {
        n->n_attribute = (size_t)n_at;
        n->attribute = g_alloc(g, (size_t)n_at * sizeof *n->attribute);
        memcpy(n->attribute, at, (size_t)n_at * sizeof *at);
    }
    g->nodes[g->n_nodes++] = n;
    return out;
}

/* One-input node without attributes. */
static const char *g_unary(Graph *g, const char *op, const char *out, const char *in) {
    return g_node(g, op, out, &in, 1, NULL, 0);
}

/* ---- layers ---- */

/* Conv with layer i's tensors t (weight) and t + 1 (bias), square kernel
 * from the weight's shape, padding k/2 as hipid's convolutions. */
static const char *g_conv(Graph *g, const char *out, const char *in, int i, const Layer *l, int t, int stride) {
    int k = l->tensors[t].dims[2];
    const char *args[3] = {in, g_tensor(g, i, l, t), g_tensor(g, i, l, t + 1)};
    Onnx__AttributeProto *at[3] = {attr_ints(g, "kernel_shape", 2, k), attr_ints(g, "strides", 2, stride),
                                   attr_ints(g, "pads", 4, k / 2)};
    return g_node(g, "Conv", out, args, 3, at, 3);
}

/* Eval-mode BatchNormalization with layer i's tensors t..t+3 (weight, bias,
 * running_mean, running_var). */
static const char *g_bn(Graph *g, const char *out, const char *in, int i, const Layer *l, int t) {
    const char *args[5] = {in, g_tensor(g, i, l, t), g_tensor(g, i, l, t + 1), g_tensor(g, i, l, t + 2),
                           g_tensor(g, i, l, t + 3)};
    Onnx__AttributeProto *at[1] = {attr_float(g, "epsilon", BN_EPS)};
    return g_node(g, "BatchNormalization", out, args, 5, at, 1);
}

static const char *g_flatten(Graph *g, const char *out, const char *in) {
    Onnx__AttributeProto *at[1] = {attr_int(g, "axis", 1)};
    g->flat = 1;
    return g_node(g, "Flatten", out, &in, 1, at, 1);
}

/* The residual block (ResLayer in layers.h). */
static const char *g_res(Graph *g, const char *p, int i, const Layer *l) {
    const ResLayer *r = (const ResLayer *)l;
    const char *x = g->cur, *a, *skip = x;
    a = g_conv(g, g_str(g, "%s.conv1", p), x, i, l, RES_CONV1, r->stride);
    a = g_bn(g, g_str(g, "%s.bn1", p), a, i, l, RES_BN1);
    a = g_unary(g, "Relu", g_str(g, "%s.relu1", p), a);
    a = g_conv(g, g_str(g, "%s.conv2", p), a, i, l, RES_CONV2, 1);
    a = g_bn(g, g_str(g, "%s.bn2", p), a, i, l, RES_BN2);
    if (r->proj) {
        skip = g_conv(g, g_str(g, "%s.proj_conv", p), x, i, l, RES_PCONV, r->stride);
        skip = g_bn(g, g_str(g, "%s.proj_bn", p), skip, i, l, RES_PBN);
    }
    const char *sum[2] = {a, skip};
    a = g_node(g, "Add", g_str(g, "%s.add", p), sum, 2, NULL, 0);
    return g_unary(g, "Relu", g_str(g, "%s.relu", p), a);
}

/* Layer i as nodes reading g->cur; g->cur becomes its output. Fails on a
 * layer type without an ONNX form. */
static int g_layer(Graph *g, int i, const Layer *l, ErrBuf *e) {
    const char *p = g_str(g, "%02d.%s", i, l->ops->name), *x = g->cur;
    if (l->ops == &conv_ops) {
        x = g_conv(g, p, x, i, l, 0, ((const ConvLayer *)l)->stride);
    } else if (l->ops == &res_ops) {
        x = g_res(g, p, i, l);
    } else if (l->ops == &bn_ops) {
        x = g_bn(g, p, x, i, l, 0);
    } else if (l->ops == &relu_ops) {
        x = g_unary(g, "Relu", p, x);
    } else if (l->ops == &pool_ops) {
        int k = ((const PoolLayer *)l)->k;
        Onnx__AttributeProto *at[2] = {attr_ints(g, "kernel_shape", 2, k), attr_ints(g, "strides", 2, k)};
        x = g_node(g, "MaxPool", p, &x, 1, at, 2);
    } else if (l->ops == &gap_ops) {
        x = g_flatten(g, p, g_unary(g, "GlobalAveragePool", g_str(g, "%s.pool", p), x));
    } else if (l->ops == &flatten_ops) {
        if (!g->flat) x = g_flatten(g, p, x);
    } else if (l->ops == &dense_ops) {
        if (!g->flat) x = g_flatten(g, g_str(g, "%s.flatten", p), x);
        const char *args[3] = {x, g_tensor(g, i, l, 0), g_tensor(g, i, l, 1)};
        Onnx__AttributeProto *at[1] = {attr_int(g, "transB", 1)};
        x = g_node(g, "Gemm", p, args, 3, at, 1);
    } else if (l->ops != &dropout_ops) { /* dropout: the identity at inference */
        return hipid_err(e, "layer %d '%s' (%s) has no ONNX form", i, l->label, l->ops->name);
    }
    g->cur = x;
    return HIPID_OK;
}

int onnx_check_model(const Model *m, ErrBuf *e) {
    static const LayerOps *const known[] = {&conv_ops, &res_ops, &bn_ops, &relu_ops, &pool_ops,
                                            &gap_ops, &flatten_ops, &dense_ops, &dropout_ops};
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) ok |= l->ops == known[k];
        if (!ok)
            return hipid_err(e, "layer %d '%s' (%s) has no ONNX form: expected conv, res, bn, r, mp, gap, "
                                "fl, fc or do", i, l->label, l->ops->name);
    }
    return HIPID_OK;
}

/* ---- graph inputs, outputs, metadata ---- */

/* A float tensor's value info; dims[d] < 0 is the symbolic batch size "N". */
static Onnx__ValueInfoProto *g_value_info(Graph *g, const char *name, int ndim, const int64_t *dims) {
    Onnx__ValueInfoProto *v = g_alloc(g, sizeof *v);
    Onnx__TypeProto *t = g_alloc(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = g_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *s = g_alloc(g, sizeof *s);
    onnx__value_info_proto__init(v), onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt), onnx__tensor_shape_proto__init(s);
    s->n_dim = (size_t)ndim;
    s->dim = g_alloc(g, (size_t)ndim * sizeof *s->dim);
    for (int d = 0; d < ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dim = s->dim[d] = g_alloc(g, sizeof *dim);
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] < 0) dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, dim->dim_param = "N";
        else dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, dim->dim_value = dims[d];
    }
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
    v->name = (char *)name, v->type = t;
    return v;
}

/* The graph: standardisation, the layers, softmax; inputs and outputs. */
static int g_build(Onnx__GraphProto *gp, Graph *g, const Model *m, ErrBuf *e) {
    g->cap_nodes = 16 + 16 * (size_t)m->n_layers, g->cap_inits = 8 + LAYER_MAX_TENSORS * (size_t)m->n_layers;
    g->nodes = xcalloc(g->cap_nodes, sizeof *g->nodes);
    g->inits = xcalloc(g->cap_inits, sizeof *g->inits);
    const char *x = "image", *a[2];
    a[0] = x, a[1] = g_scalar(g, "input_scale", 255.0f);
    x = g_node(g, "Div", "input.unit", a, 2, NULL, 0); /* as dataset_gather_f32: (v / 255 - mean) / std */
    a[0] = x, a[1] = g_scalar(g, "input_mean", m->input_mean);
    x = g_node(g, "Sub", "input.centred", a, 2, NULL, 0);
    a[0] = x, a[1] = g_scalar(g, "input_std", m->input_std);
    g->cur = g_node(g, "Div", "input.standardised", a, 2, NULL, 0);
    for (int i = 0; i < m->n_layers; i++)
        if (g_layer(g, i, m->layers[i], e) != HIPID_OK) return HIPID_ERR;
    if (!g->flat) g->cur = g_flatten(g, "logits.flatten", g->cur);
    Onnx__AttributeProto *at[1] = {attr_int(g, "axis", 1)};
    g_node(g, "Softmax", "probabilities", &g->cur, 1, at, 1);
    onnx__graph_proto__init(gp);
    gp->name = "hipid";
    gp->n_node = g->n_nodes, gp->node = g->nodes;
    gp->n_initializer = g->n_inits, gp->initializer = g->inits;
    gp->n_input = gp->n_output = 1;
    gp->input = g_alloc(g, sizeof *gp->input);
    gp->output = g_alloc(g, sizeof *gp->output);
    gp->input[0] = g_value_info(g, "image", 4, (int64_t[]){-1, m->in.c, m->in.h, m->in.w});
    gp->output[0] = g_value_info(g, "probabilities", 2, (int64_t[]){-1, m->n_classes});
    return HIPID_OK;
}

/* The class names as a JSON array of strings. */
static char *g_json_names(Graph *g, char *const *names, int n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    HIPID_CHECK(f != NULL);
    fputc('[', f);
    for (int k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        json_write_string(f, names[k]);
    }
    fputc(']', f);
    HIPID_CHECK(fclose(f) == 0);
    return g_keep(g, buf);
}

static void g_meta(Graph *g, Onnx__ModelProto *mp, const char *key, const char *value) {
    Onnx__StringStringEntryProto *p = g_alloc(g, sizeof *p);
    onnx__string_string_entry_proto__init(p);
    p->key = (char *)key, p->value = (char *)value;
    mp->metadata_props[mp->n_metadata_props++] = p;
}

static void g_metadata(Graph *g, Onnx__ModelProto *mp, const Model *m, const OnnxInfo *info) {
    char v[64];
    mp->metadata_props = g_alloc(g, (size_t)(8 + info->n_extra) * sizeof *mp->metadata_props);
    g_meta(g, mp, "class_names", g_json_names(g, info->class_names, info->n_classes));
    g_meta(g, mp, "preprocessing", info->preprocessing ? info->preprocessing : "");
    g_meta(g, mp, "input_size", g_str(g, "%d", m->in.h));
    g_meta(g, mp, "input", "the prepared image (hipid prep's preprocessing), pixel values 0..255 as float, "
                           "[N,1,S,S]; the graph divides by 255 and standardises");
    fmt_shortest_float(v, sizeof v, m->input_mean);
    g_meta(g, mp, "input_mean", g_str(g, "%s", v));
    fmt_shortest_float(v, sizeof v, m->input_std);
    g_meta(g, mp, "input_std", g_str(g, "%s", v));
    g_meta(g, mp, "spec", m->spec);
    for (int k = 0; k < info->n_extra; k++) g_meta(g, mp, info->keys[k], info->values[k]);
}

/* ---- the file ---- */

/* Write buf to a temporary file beside path (fsafe_tmp_name, created
 * exclusively, mode 0666 less the umask), then rename it over path. */
static int write_atomic(const char *path, const uint8_t *buf, size_t n, ErrBuf *e) {
    size_t cap = strlen(path) + 320; /* ".tmp.<host>.<pid>" */
    char *tmp = xmalloc(cap);
    if (fsafe_tmp_name(tmp, cap, path, e) != HIPID_OK) {
        free(tmp);
        return HIPID_ERR;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666), rc = HIPID_ERR;
    if (fd < 0) {
        hipid_err(e, "%s: cannot create a file there: %s", path, strerror(errno));
        goto done;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) close(fd);
    int ok = f && fwrite(buf, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) hipid_err(e, "%s: cannot write %zu bytes: %s", path, n, strerror(errno));
    else if (rename(tmp, path) != 0) hipid_err(e, "%s: cannot rename the finished file to it: %s", path, strerror(errno));
    else rc = HIPID_OK;
    if (rc != HIPID_OK) unlink(tmp);
done:
    free(tmp);
    return rc;
}

int onnx_write(const Model *m, const OnnxInfo *info, const char *path, ErrBuf *e) {
    struct stat st;
    Graph g = {0};
    Onnx__GraphProto gp;
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *ops[1] = {&opset};
    int rc = HIPID_ERR;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return hipid_err(e, "%s: is a folder; expected the name of the .onnx file to write", path);
    if (info->n_classes != m->n_classes)
        return hipid_err(e, "%s: %d class names for a model of %d classes", path, info->n_classes, m->n_classes);
    if (onnx_check_model(m, e) != HIPID_OK || g_build(&gp, &g, m, e) != HIPID_OK) goto done;
    opset.domain = "", opset.has_version = 1, opset.version = ONNX_OPSET;
    mp.has_ir_version = 1, mp.ir_version = ONNX_IR_VERSION;
    mp.n_opset_import = 1, mp.opset_import = ops;
    mp.producer_name = "hipid", mp.producer_version = "1";
    mp.doc_string = "hipid: identify orthopaedic implants in X-rays (docs/export.md)";
    mp.graph = &gp;
    g_metadata(&g, &mp, m, info);
    size_t n = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = xmalloc(n ? n : 1);
    HIPID_CHECK(onnx__model_proto__pack(&mp, buf) == n);
    rc = write_atomic(path, buf, n, e);
    free(buf);
done:
    graph_free(&g);
    return rc;
}
