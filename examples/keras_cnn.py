"""The Keras MNIST convnet (Conv2D, MaxPooling2D, Dropout, Dense), trained the Keras
way: Adam, cross-entropy, and a tenth of the training digits held out for validation
after every epoch.

    python examples/keras_cnn.py --backend cython --epochs 4
"""
from fastconv import demo, models, optim


def main(argv=None) -> float:
    args = demo.parser("The Keras MNIST convnet on the embedded digits").parse_args(argv)
    model = models.keras_cnn(seed=args.seed).to(args.backend)
    model.summary()
    digits = demo.digits(model, limit=args.limit, seed=args.seed)
    history = model.fit(digits.x, digits.y, epochs=args.epochs, batch_size=args.batch_size,
                        optimizer=optim.Adam(model.parameters()), validation_split=0.1, seed=args.seed)
    print(f"validation accuracy per epoch: {', '.join(f'{a:.2%}' for a in history['val_accuracy'])}")
    return demo.report(model, digits)


if __name__ == "__main__":
    main()
