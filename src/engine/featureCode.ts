/** Numeric kinds of features for the hot read loop (a switch on small integers). */
export const FeatureCode = { Count: 0, Sum: 1, Avg: 2, Extremum: 3, Variance: 4, Stddev: 5, Window: 6 } as const;
export type FeatureCode = (typeof FeatureCode)[keyof typeof FeatureCode];
