"""Where every file `vrft data fetch` downloads comes from: one table (also printed in the README).

Checksums are the publishers' md5 where they publish one (COCO, VGG; the same values torchvision and
other loaders check) and sha256 of the official Visual-RFT files at the pinned commit below. Where
none could be established (FGVC-Aircraft, LVIS), the length the server announces is checked and the
archive must unpack; single images by ``coco_url`` must decode. Stanford Cars and ReasonSeg have no
source a script can reach: `vrft data fetch` lays them out from ``--from`` (`harness.fetch.fgvc`,
`harness.fetch.lisa` say what to download).
"""

from __future__ import annotations

from harness.fetch.download import Remote

VISUAL_RFT_COMMIT = "94866331ff38c516581697882a00f947c8bfda8a"
_RAW = f"https://raw.githubusercontent.com/Liuziyu77/Visual-RFT/{VISUAL_RFT_COMMIT}"

SOURCES: dict[str, Remote] = {
    # COCO 2017 (https://cocodataset.org/#download)
    "coco_annotations": Remote(
        "http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
        "annotations_trainval2017.zip",
        size=252907541,
        md5="f4bbac642086de4f52a3fdda2de5fa2c",
    ),
    "coco_val2017": Remote(
        "http://images.cocodataset.org/zips/val2017.zip",
        "val2017.zip",
        size=815585330,
        md5="442b8da7639aecaf257c1dceb8ba8c80",
    ),
    # Oxford Flowers 102 (https://www.robots.ox.ac.uk/~vgg/data/flowers/102/)
    "flowers_images": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
        "102flowers.tgz",
        md5="52808999861908f626f3c1f4e79d11fa",
    ),
    "flowers_labels": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",
        "imagelabels.mat",
        md5="e0620be6f572b9609742df49c70aed4d",
    ),
    "flowers_setid": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/setid.mat",
        "setid.mat",
        md5="a5357ecc9cb78c4bef273ce3793fc85c",
    ),
    # Oxford-IIIT Pets (https://www.robots.ox.ac.uk/~vgg/data/pets/)
    "pets_images": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
        "images.tar.gz",
        md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
    ),
    "pets_annotations": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
        "annotations.tar.gz",
        md5="95a8c909bbe2e81eed6a22bccdf3f68f",
    ),
    # FGVC-Aircraft 2013b (https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/)
    "aircraft": Remote(
        "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",
        "fgvc-aircraft-2013b.tar.gz",
    ),
    # LVIS v1 (https://www.lvisdataset.org/dataset); images: COCO 2017, each by its coco_url
    "lvis_val": Remote("https://dl.fbaipublicfiles.com/LVIS/lvis_v1_val.json.zip", "lvis_v1_val.json.zip"),
    "lvis_train": Remote("https://dl.fbaipublicfiles.com/LVIS/lvis_v1_train.json.zip", "lvis_v1_train.json.zip"),
    # The paper's classification test lists (official repository, classification/val_data/)
    "list_flowers102_pth": Remote(
        f"{_RAW}/classification/val_data/oxford_flowers.pth",
        "oxford_flowers.pth",
        size=1038392,
        sha256="552de54fbab1b9d617d51464e702d3b5b264190d73e3d6951e93cef2259632c6",
    ),
    "list_flowers102_txt": Remote(
        f"{_RAW}/classification/val_data/oxford_flowers.txt",
        "oxford_flowers.txt",
        size=1298,
        sha256="ecf0e0817285307828ef863d39b6c45a7ecdd52bcd0e3fa5c5391457cbdfdccd",
    ),
    "list_pets37_pth": Remote(
        f"{_RAW}/classification/val_data/pets.pth",
        "pets.pth",
        size=1560999,
        sha256="701076c5df06bb2f36ce09c2dfb0d8254a8bae7400144438c69db3019a94befb",
    ),
    "list_pets37_txt": Remote(
        f"{_RAW}/classification/val_data/pets.txt",
        "pets.txt",
        size=468,
        sha256="8e35ab44db27d55ab1a062c8af3308606560f9f3e3a6bf698b19e4ea54212d6d",
    ),
    "list_aircraft_pth": Remote(
        f"{_RAW}/classification/val_data/fgvc_aircraft.pth",
        "fgvc_aircraft.pth",
        size=1399125,
        sha256="3ee492f52ad4b932f9d232266d6d609a50521c26704be98455fc9ec51043510e",
    ),
    "list_aircraft_txt": Remote(
        f"{_RAW}/classification/val_data/fgvc_aircraft.txt",
        "fgvc_aircraft.txt",
        size=845,
        sha256="e1c9e72060e63d526dce032008262a95f573b02e802be7be42f0cb6ccd5b4217",
    ),
    "list_cars196_pth": Remote(
        f"{_RAW}/classification/val_data/stanford_cars.pth",
        "stanford_cars.pth",
        size=3384751,
        sha256="60dc4a00213ad0f7911e73748fd6410b78fc8e124fb08c516adfa210df9981fe",
    ),
    "list_cars196_txt": Remote(
        f"{_RAW}/classification/val_data/stanford_cars.txt",
        "stanford_cars.txt",
        size=5453,
        sha256="2caca90b5c02b65fcd9542cc2c934aa40c56ded5cb5b72e6e0b8e6b023cf81f9",
    ),
    # The official exist maps (protocol=exist-map), same commit
    **{
        f"exist_map_{ds}_{size}": Remote(
            f"{_RAW}/{ds}_evaluation/exist_map_{ds}_Qwen2_vl_{size}_baseline.json",
            f"exist_map_{ds}_Qwen2_vl_{size}_baseline.json",
            size=n,
            sha256=sha,
        )
        for ds, size, n, sha in (
            ("coco", "2B", 565296, "1ef0642b6fa76d509a7504726ccab353e844f96a5afcd75ac37a36211707e618"),
            ("coco", "7B", 236860, "2cc47abf3cc1cfbca060f089afde69e2c82f1e4e71a74de9b9a0f226c294c0a2"),
            ("lvis", "2B", 453447, "b6f41af89c627dfbf55885b64c06e7d68a6e6b4c81d8d084718c4ccfb4e1072f"),
            ("lvis", "7B", 493429, "6eb8a12c9f50dcebcab38732178c9fb4848fcab565491dbac7e2e258ab93c5d7"),
        )
    },
}

TEST_COUNTS: dict[str, int] = {"flowers102": 2463, "pets37": 3669, "aircraft": 3333, "cars196": 8041}
"""Images in each paper test list (the official ``.pth``): a list of another length is refused."""
