"""LeNet-5 on the embedded MNIST digits: the 28x28 digits padded to 32x32, SGD with
momentum and a cosine learning-rate schedule, each digit shifted by up to 2 pixels.

    python examples/lenet5.py --backend numba --epochs 5
"""
from fastconv import data, demo, models, optim


def main(argv=None) -> float:
    args = demo.parser("LeNet-5 on the embedded MNIST digits", epochs=5).parse_args(argv)
    model = models.lenet5(seed=args.seed).to(args.backend)
    model.summary()
    digits = demo.digits(model, limit=args.limit, seed=args.seed)
    sgd = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.fit(digits.x, digits.y, epochs=args.epochs, batch_size=args.batch_size, optimizer=sgd,
              scheduler=optim.CosineAnnealingLR(sgd, args.epochs), seed=args.seed,
              augment=lambda batch, rng: data.random_shift(batch, 2, rng))
    return demo.report(model, digits)


if __name__ == "__main__":
    main()
