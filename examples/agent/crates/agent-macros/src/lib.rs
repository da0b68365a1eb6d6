//! Procedural macros for the agent.
//!
//! * `#[derive(Describe)]` adds `TYPE_NAME` and `field_names()` to a struct
//!   or enum (field names for structs, variant names for enums).
//! * `#[rpc_handler("Name")]` marks a function as the handler of an agent
//!   RPC: it logs each call at debug level and adds a `<fn>_RPC` constant.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, ItemFn, LitStr};

/// Derives `TYPE_NAME: &str` and `fn field_names() -> &'static [&'static str]`.
#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let names: Vec<String> = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref().map(|i| i.to_string().trim_start_matches("r#").to_string()))
                .collect(),
            Fields::Unnamed(fields) => (0..fields.unnamed.len()).map(|i| i.to_string()).collect(),
            Fields::Unit => Vec::new(),
        },
        Data::Enum(data) => data.variants.iter().map(|v| v.ident.to_string()).collect(),
        Data::Union(_) => {
            return syn::Error::new_spanned(name, "Describe cannot be derived for unions")
                .to_compile_error()
                .into();
        }
    };
    let type_name = name.to_string();

    let expanded = quote! {
        impl #impl_generics #name #ty_generics #where_clause {
            /// The type's name, as written in its definition.
            pub const TYPE_NAME: &'static str = #type_name;

            /// Field names (structs) or variant names (enums), in order.
            pub fn field_names() -> &'static [&'static str] {
                &[#(#names),*]
            }
        }
    };
    expanded.into()
}

/// Marks a function as an RPC handler.
///
/// ```text
/// #[rpc_handler("CreateContainer")]
/// fn create_container(req: &Request) -> Result<()> { ... }
/// ```
///
/// expands to the same function with a `log::debug!` call at the top, and a
/// `pub const CREATE_CONTAINER_RPC: &str = "CreateContainer";` next to it.
#[proc_macro_attribute]
pub fn rpc_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let rpc_name = parse_macro_input!(attr as LitStr);
    let mut func = parse_macro_input!(item as ItemFn);

    let const_name = format_ident!("{}_RPC", func.sig.ident.to_string().to_uppercase());
    let vis = func.vis.clone();
    let body = &func.block;
    let new_body: syn::Block = syn::parse_quote! {{
        ::log::debug!("rpc {} ({})", #rpc_name, module_path!());
        #body
    }};
    *func.block = new_body;

    let expanded = quote! {
        /// Name of the RPC handled by the function below.
        #[allow(dead_code)]
        #vis const #const_name: &str = #rpc_name;

        #func
    };
    expanded.into()
}
