/* A small library whose exported surface the ABI tests compare across
 * versions. The recipe builds it with -D flags:
 *   (none)         v1: shape_area, shape_scale, shape_count, shape_last_error
 *   -DBODY_CHANGE  v1 with different function bodies: the same surface
 *   -DREMOVE_SCALE v2: shape_scale removed (breaking)
 *   -DADD_PERIM    v3: shape_perimeter added (compatible)
 */
int shape_count = 3;
__thread int shape_last_error;

double shape_area(double w, double h) {
#ifdef BODY_CHANGE
    double area = 0.0;
    for (int i = 0; i < 2; i++)
        area += w * h / 2.0;
    return area;
#else
    return w * h;
#endif
}

#ifndef REMOVE_SCALE
double shape_scale(double v, double k) { return v * k; }
#endif

#ifdef ADD_PERIM
double shape_perimeter(double w, double h) { return 2.0 * (w + h); }
#endif

static int helper(int x) { return x + 1; }
int shape_next(int x) { return helper(x); }
