/* Hybrid predictive training from C: a small linear model trained with rai's AdamW, first with
 * the step protocol written out, then with the callback driver. Build:
 *   cc -std=c11 hybrid_training.c $(pkg-config --cflags --libs rai) -lm */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rai.h"

enum { IN = 16, OUT = 4, BATCH = 32, STEPS = 400 };

typedef struct {
    float w[OUT * IN], b[OUT];   /* parameters */
    float gw[OUT * IN], gb[OUT]; /* their gradients */
} Model;

static float uniform(uint64_t k) { /* a pure function of k, in [-1, 1) */
    k += 0x9E3779B97F4A7C15ull;
    k = (k ^ (k >> 30)) * 0xBF58476D1CE4E5B9ull;
    k = (k ^ (k >> 27)) * 0x94D049BB133111EBull;
    k ^= k >> 31;
    return (float)((double)(k >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* Mean 0.5 |W x + b - y|^2 over a fresh batch of step `step`; gradients when `grad`. */
static float loss_and_grad(Model *m, uint64_t step, int grad) {
    double loss = 0;
    if (grad) {
        memset(m->gw, 0, sizeof m->gw);
        memset(m->gb, 0, sizeof m->gb);
    }
    for (int s = 0; s < BATCH; ++s) {
        float x[IN];
        for (int i = 0; i < IN; ++i) x[i] = uniform(step * 100003u + (uint64_t)s * 101u + (uint64_t)i);
        for (int o = 0; o < OUT; ++o) {
            float y = 0.3f * (float)o + 0.05f * uniform(step * 7919u + (uint64_t)s * 13u + (uint64_t)o + 1000000u);
            float pred = m->b[o];
            for (int i = 0; i < IN; ++i) {
                y += uniform(5000000u + (uint64_t)(o * IN + i)) * x[i];
                pred += m->w[o * IN + i] * x[i];
            }
            const float e = pred - y;
            loss += 0.5 * e * e;
            if (grad) {
                for (int i = 0; i < IN; ++i) m->gw[o * IN + i] += e * x[i] / BATCH;
                m->gb[o] += e / BATCH;
            }
        }
    }
    return (float)(loss / BATCH);
}

#define CHECK(call)                                                                         \
    do {                                                                                    \
        const rai_status st_ = (call);                                                      \
        if (st_ != RAI_OK) {                                                                \
            fprintf(stderr, "%s failed: %s: %s\n", #call, rai_status_string(st_), rai_last_error_message()); \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

static int64_t wshape[2] = {OUT, IN}, bshape[1] = {OUT};

static rai_tensor tensor(float *data, const int64_t *shape, int32_t ndim) {
    rai_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.device.device_type = RAI_DEVICE_CPU;
    t.ndim = ndim;
    t.dtype.code = RAI_DTYPE_FLOAT;
    t.dtype.bits = 32;
    t.dtype.lanes = 1;
    t.shape = shape;
    return t;
}

/* One hybrid + optimizer over the model. */
static int setup(rai_context *ctx, Model *m, rai_hybrid **h, rai_optimizer **opt) {
    rai_tensor w = tensor(m->w, wshape, 2), gw = tensor(m->gw, wshape, 2);
    rai_tensor b = tensor(m->b, bshape, 1), gb = tensor(m->gb, bshape, 1);
    rai_optimizer_params op;
    CHECK(rai_optimizer_params_init(&op));
    op.kind = RAI_OPTIMIZER_ADAMW;
    op.lr = 0.02f;
    CHECK(rai_optimizer_create(ctx, &op, opt));
    CHECK(rai_optimizer_add_param(*opt, "w", &w, &gw, NULL)); /* borrowed: m must outlive opt */
    CHECK(rai_optimizer_add_param(*opt, "b", &b, &gb, NULL));
    rai_hybrid_params hp;
    CHECK(rai_hybrid_params_init(&hp)); /* FIXED 10/5/20/5 schedule, HOLD, guard on */
    CHECK(rai_hybrid_create(ctx, &hp, h));
    CHECK(rai_hybrid_add_param(*h, "w", &w, &gw, NULL));
    CHECK(rai_hybrid_add_param(*h, "b", &b, &gb, NULL));
    CHECK(rai_hybrid_set_optimizer(*h, *opt)); /* predictions in update space */
    return 0;
}

static int32_t cb_backward(void *user, uint64_t step, float *loss) {
    *loss = loss_and_grad((Model *)user, step, 1);
    return 0;
}
static int32_t cb_forward(void *user, uint64_t step, float *loss) {
    *loss = loss_and_grad((Model *)user, step, 0);
    return 0;
}

int main(void) {
    rai_context_params cp;
    CHECK(rai_context_params_init(&cp));
    cp.device_type = RAI_DEVICE_CPU;
    rai_context *ctx = NULL;
    CHECK(rai_context_create(&cp, &ctx));

    /* 1. The step protocol, written out. */
    static Model m1, m2;
    rai_hybrid *h = NULL;
    rai_optimizer *opt = NULL;
    if (setup(ctx, &m1, &h, &opt)) return 1;
    const float first = loss_and_grad(&m1, 0, 0);
    rai_hybrid_step_info info;
    rai_hybrid_step_result res;
    CHECK(rai_hybrid_step_info_init(&info));
    CHECK(rai_hybrid_step_result_init(&res));
    for (int s = 0; s < STEPS; ++s) {
        CHECK(rai_hybrid_begin_step(h, &info));
        if (info.needs_backward) {
            CHECK(rai_hybrid_record_gradients(h, loss_and_grad(&m1, info.step, 1)));
        } else {
            CHECK(rai_hybrid_apply_predicted(h));
            if (info.needs_forward) CHECK(rai_hybrid_report_loss(h, loss_and_grad(&m1, info.step, 0)));
        }
        CHECK(rai_hybrid_end_step(h, &res));
        if (res.events & RAI_HYBRID_EVENT_ROLLED_BACK)
            printf("step %llu: rolled back to step %llu\n", (unsigned long long)res.step,
                   (unsigned long long)res.rollback_step);
    }
    rai_hybrid_stats st;
    CHECK(rai_hybrid_stats_init(&st));
    CHECK(rai_hybrid_get_stats(h, &st));
    const float last = loss_and_grad(&m1, STEPS, 0);
    printf("protocol: loss %.4f -> %.4f in %llu steps, %llu backward passes (b = %.2f), %llu predicted\n", first, last,
           (unsigned long long)st.steps, (unsigned long long)st.backward_passes, st.backward_fraction,
           (unsigned long long)st.predicted_steps);
    char *json = NULL;
    CHECK(rai_hybrid_metrics_json(h, 0, &json));
    printf("%s\n", json);
    rai_free(json);
    rai_hybrid_destroy(h);
    rai_optimizer_destroy(opt);

    /* 2. The same training with the callback driver: bitwise the same parameters. */
    if (setup(ctx, &m2, &h, &opt)) return 1;
    rai_hybrid_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.backward = cb_backward;
    cb.forward = cb_forward;
    uint64_t done = 0;
    CHECK(rai_hybrid_run_steps(h, &cb, &m2, STEPS, &done));
    const int same = memcmp(m1.w, m2.w, sizeof m1.w) == 0 && memcmp(m1.b, m2.b, sizeof m1.b) == 0;
    printf("driver: %llu steps, parameters %s the protocol's\n", (unsigned long long)done,
           same ? "bitwise equal to" : "DIFFERENT from");
    rai_hybrid_destroy(h);
    rai_optimizer_destroy(opt);
    rai_context_destroy(ctx);
    return (same && last < 0.5f * first) ? 0 : 1;
}
