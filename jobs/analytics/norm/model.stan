// Plate measurements of strains: strain effects against the parent, batch and plate offsets
// with partial pooling, a Student-t likelihood. Values arrive standardized (value - center) /
// scale, so the priors below are in units of the data's own spread. docs/normalization.md
// explains every choice.
data {
  int<lower=1> N;                          // wells, process failures removed
  int<lower=2> S;                          // strains; strain 1 is the parent
  int<lower=1> B;                          // batches (days)
  int<lower=1> P;                          // plates
  array[N] int<lower=1, upper=S> strain;
  array[N] int<lower=1, upper=P> plate;
  array[P] int<lower=1, upper=B> plate_batch;
  vector[N] y;
}
parameters {
  real mu;                                 // the parent's level on an average batch
  vector[B] batch_level;                   // mu + the batch's offset
  vector[P] plate_level;                   // the batch's level + the plate's offset
  real<lower=0> batch_scale;               // SD of batch offsets: the monitored scale
  real<lower=0> plate_scale;               // SD of plate offsets within a batch
  vector[S - 1] effect_dev;                // each strain's effect against the parent, less effect_loc
  real effect_loc;
  real<lower=0> effect_scale;
  real<lower=0> sigma;                     // well-to-well noise
  real<lower=1> nu;                        // degrees of freedom of the noise
}
model {
  mu ~ normal(0, 2);
  batch_scale ~ normal(0, 1);
  plate_scale ~ normal(0, 0.5);
  effect_loc ~ normal(0, 1);
  effect_scale ~ normal(0, 1);
  sigma ~ normal(0, 1);
  nu ~ gamma(2, 0.1);
  batch_level ~ normal(mu, batch_scale);
  plate_level ~ normal(batch_level[plate_batch], plate_scale);
  effect_dev ~ student_t(3, 0, effect_scale);
  y ~ student_t(nu, plate_level[plate] + append_row(0, effect_loc + effect_dev)[strain], sigma);
}
generated quantities {
  vector[S - 1] effect = effect_loc + effect_dev;
}
