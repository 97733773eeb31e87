"""The tiny CNN: eight 3x3 filters, max-pooling and one linear layer, about 13,600
parameters, trained with Adam. A few epochs take seconds and reach about 90%.

    python examples/tiny_cnn.py --backend numpy
"""
from fastconv import demo, models, optim


def main(argv=None) -> float:
    args = demo.parser("The tiny CNN on the embedded MNIST digits").parse_args(argv)
    model = models.tiny_cnn(seed=args.seed).to(args.backend)
    model.summary()
    digits = demo.digits(model, limit=args.limit, seed=args.seed)
    model.fit(digits.x, digits.y, epochs=args.epochs, batch_size=args.batch_size,
              optimizer=optim.Adam(model.parameters(), lr=2e-3), seed=args.seed)
    return demo.report(model, digits)


if __name__ == "__main__":
    main()
