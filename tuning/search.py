"""KerasTuner search over DSD-MAE's noise_std, mask_ratio, loss_weight and
teacher knobs (the same as the installed `keras-dsmae-tune`; flags: --helpfull).

    python tuning/search.py --dataset=cifar100 --tuner=bayesian --max_trials=20 --epochs=20
    python tuning/search.py --use_synthetic_data --max_trials=2 --epochs=1 --steps_per_epoch=2

Rerunning with the same --directory/--project_name resumes the search.
Distributed: tuning/README.md (or tuning/distributed_loopback.py on one machine).
"""

from keras_dsmae.tuning.search import main

if __name__ == "__main__":
    main()
