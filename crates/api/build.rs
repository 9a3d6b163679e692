//! Generates tonic traits for Temporal's public services from the descriptor set that
//! `temporalio-protos` publishes, and compiles our internal protos against the same set so
//! that every message type resolves to one Rust type.

use prost::Message;
use prost_types::FileDescriptorSet;
use std::path::PathBuf;

const PUBLIC_SERVICES: [&str; 2] = [
    "temporal/api/workflowservice/v1/service.proto",
    "temporal/api/operatorservice/v1/service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor_path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")?;
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
    let bytes = std::fs::read(&descriptor_path)?;
    let published = FileDescriptorSet::decode(bytes.as_slice())?;

    // Public services only: every message they use is extern (temporalio-protos).
    let services = FileDescriptorSet {
        file: published
            .file
            .iter()
            .filter(|f| PUBLIC_SERVICES.contains(&f.name()))
            .cloned()
            .collect(),
    };
    configure().compile_fds(services.clone())?;
    write_namespace_fields(&published, &services)?;

    // Internal protos resolve imports from the published set; only our packages are generated.
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let mut files = Vec::new();
    collect_protos(&proto_root, &mut files)?;
    let relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(&proto_root).map(PathBuf::from))
        .collect::<Result<_, _>>()?;
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::IncludeFileResolver::new(proto_root.clone()));
    resolver.add(protox::file::DescriptorSetFileResolver::new(published));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_files(&relative)?;
    configure().compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// `namespace_fields.rs`: for each public RPC path, the field number of its request's top-level
/// `namespace` string (0 when it has none), so the frontend's authorizer can read the namespace
/// of a request without decoding the whole message.
fn write_namespace_fields(
    published: &FileDescriptorSet,
    services: &FileDescriptorSet,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut fields = std::collections::HashMap::new();
    for file in &published.file {
        for message in &file.message_type {
            let number = message
                .field
                .iter()
                .find(|f| f.name() == "namespace" && f.r#type() == prost_types::field_descriptor_proto::Type::String)
                .map_or(0, |f| f.number());
            fields.insert(format!(".{}.{}", file.package(), message.name()), number);
        }
    }
    let mut rows = Vec::new();
    for file in &services.file {
        for service in &file.service {
            for method in &service.method {
                let number = fields.get(method.input_type()).copied().unwrap_or(0);
                rows.push(format!(
                    "    (\"/{}.{}/{}\", {number}),\n",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    rows.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("namespace_fields.rs");
    std::fs::write(
        out,
        format!(
            "/// (RPC path, field number of the request's `namespace`, 0 if none)\npub static NAMESPACE_FIELDS: &[(&str, i32)] = &[\n{}];\n",
            rows.concat()
        ),
    )?;
    Ok(())
}

fn configure() -> tonic_prost_build::Builder {
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .generate_default_stubs(true)
        .compile_well_known_types(true)
        .extern_path(".temporal.api", "::temporalio_protos::temporal::api")
        .extern_path(".google.protobuf", "::prost_wkt_types")
        .extern_path(".google.rpc", "::temporalio_protos::google::rpc")
}

fn collect_protos(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}
